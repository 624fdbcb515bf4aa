package users

import (
	"context"
	"sync"
	"time"

	"github.com/raftgram/raftgram/fsm/account"
	"github.com/raftgram/raftgram/node/access"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl/api"
)

// Directory implements handler.Directory over the account state.
type Directory struct {
	store  *Store
	access access.Hasher
}

var _ handler.Directory = (*Directory)(nil)

// NewDirectory returns a Directory.
func NewDirectory(s *Store, h access.Hasher) *Directory { return &Directory{store: s, access: h} }

// Entry is a user as a viewer sees it, before it becomes an api.User.
type Entry struct {
	User      account.User
	HasViewer bool             // the user has the viewer as a contact
	Rel       account.Relation // the viewer's contact entry and block
}

// Lookup returns the entries of ids as viewer sees them, keyed by id (ids with no user are absent). One query
// per shard holding some of ids, the viewer's shard also answering the viewer's relations; the queries run
// in parallel.
func (d *Directory) Lookup(ctx context.Context, viewer int64, ids []int64) (map[int64]*Entry, error) {
	n := d.store.Shards()
	byShard := map[uint32]*account.UsersQuery{}
	vs := account.UserShard(viewer, n)
	seen := map[int64]bool{}
	var rel []int64
	for _, id := range ids {
		if id <= 0 || id == account.ServiceUserID || seen[id] {
			continue
		}
		seen[id] = true
		sh := account.UserShard(id, n)
		q := byShard[sh]
		if q == nil {
			q = &account.UsersQuery{Viewer: viewer}
			byShard[sh] = q
		}
		q.IDs = append(q.IDs, id)
		if id != viewer {
			rel = append(rel, id)
		}
	}
	if len(rel) > 0 {
		if byShard[vs] == nil {
			byShard[vs] = &account.UsersQuery{Viewer: viewer}
		}
		byShard[vs].RelIDs = rel
	}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		first error
		views []account.UsersView
	)
	for sh, q := range byShard {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := d.store.Query(ctx, sh, account.QUsers, q.Encode())
			var view account.UsersView
			if err == nil {
				view, err = account.DecodeUsersView(v)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			views = append(views, view)
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	out := make(map[int64]*Entry, len(seen))
	for _, v := range views {
		for _, u := range v.Users {
			out[u.User.ID] = &Entry{User: u.User, HasViewer: u.HasViewer, Rel: account.Relation{ID: u.User.ID}}
		}
	}
	for _, v := range views {
		for _, r := range v.Rels {
			if e := out[r.ID]; e != nil {
				e.Rel = r
			}
		}
	}
	return out, nil
}

// Users implements handler.Directory.
func (d *Directory) Users(ctx context.Context, viewer int64, ids []int64) ([]api.UserClass, error) {
	m, err := d.Lookup(ctx, viewer, ids)
	if err != nil {
		return nil, err
	}
	now := d.store.Now()
	out := make([]api.UserClass, 0, len(ids))
	done := map[int64]bool{}
	for _, id := range ids {
		if done[id] {
			continue
		}
		done[id] = true
		if id == account.ServiceUserID {
			out = append(out, ServiceUser(d.access, viewer))
			continue
		}
		if e := m[id]; e != nil {
			out = append(out, d.APIUser(viewer, e, now))
		}
	}
	return out, nil
}

// ServiceUser is the service account 777000 as viewer sees it.
func ServiceUser(h access.Hasher, viewer int64) *api.User {
	return &api.User{ID: account.ServiceUserID, AccessHash: ptr(h.User(viewer, account.ServiceUserID)),
		FirstName: ptr("Telegram"), Phone: ptr("42777"), Verified: true, Support: true,
		Status: &api.UserStatusRecently{}}
}

func ptr[T any](v T) *T { return &v }

// APIUser builds the api.User of an entry for viewer: access hash for viewer, self/contact/mutual flags, the
// name as the viewer saved it, the phone for self and contacts, the status.
func (d *Directory) APIUser(viewer int64, e *Entry, now time.Time) *api.User {
	u := e.User
	self := u.ID == viewer
	contact := !self && e.Rel.Contact != nil
	out := &api.User{
		ID:            u.ID,
		Self:          self,
		Contact:       contact,
		MutualContact: contact && e.HasViewer,
		AccessHash:    ptr(d.access.User(viewer, u.ID)),
		Status:        Status(u, now),
	}
	first, last := u.FirstName, u.LastName
	if contact && (e.Rel.Contact.FirstName != "" || e.Rel.Contact.LastName != "") {
		first, last = e.Rel.Contact.FirstName, e.Rel.Contact.LastName
	}
	if first != "" {
		out.FirstName = ptr(first)
	}
	if last != "" {
		out.LastName = ptr(last)
	}
	if u.Username != "" {
		out.Username = ptr(u.Username)
	}
	if self || contact || e.HasViewer {
		out.Phone = ptr(u.Phone)
	}
	return out
}

// Status is the api status of a user record at now.
func Status(u account.User, now time.Time) api.UserStatusClass {
	switch {
	case u.OnlineUntil > now.UnixMilli():
		return &api.UserStatusOnline{Expires: int32(u.OnlineUntil / 1000)}
	case u.LastSeen > 0:
		return &api.UserStatusOffline{WasOnline: int32(u.LastSeen / 1000)}
	}
	return &api.UserStatusRecently{}
}
