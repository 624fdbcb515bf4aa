package users

import (
	"context"
	"strings"
	"sync"

	"github.com/raftgram/raftgram/fsm/account"
	"github.com/raftgram/raftgram/node/handler"
	"github.com/raftgram/raftgram/tl"
	"github.com/raftgram/raftgram/tl/api"
)

const maxImport = 1000

func (h *Handlers) resolved(ctx context.Context, viewer, uid int64) (tl.Object, error) {
	us, err := h.dir.Users(ctx, viewer, []int64{uid})
	if err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, errNotOccupied
	}
	return &api.ContactsResolvedPeer{Peer: &api.PeerUser{UserID: uid}, Chats: []api.ChatClass{}, Users: us}, nil
}

var (
	errNotOccupied      = handler.BadRequest("USERNAME_NOT_OCCUPIED")
	errPhoneNotOccupied = handler.BadRequest("PHONE_NOT_OCCUPIED")
)

func (h *Handlers) resolveUsername(ctx context.Context, c *handler.Call, req *api.ContactsResolveUsernameRequest) (tl.Object, error) {
	name := strings.TrimPrefix(req.Username, "@")
	if !ValidUsername(name) {
		return nil, handler.BadRequest("USERNAME_INVALID")
	}
	// The claim decides (settleClaim finishes an attempt cut before its confirmation, or frees a dead one).
	uid, err := h.settleClaim(ctx, toLower(name))
	if err != nil {
		return nil, err
	}
	if uid == 0 {
		return nil, errNotOccupied
	}
	return h.resolved(ctx, c.UserID, uid)
}

func (h *Handlers) resolvePhone(ctx context.Context, c *handler.Call, req *api.ContactsResolvePhoneRequest) (tl.Object, error) {
	phone, ok := NormalizePhone(req.Phone)
	if !ok {
		return nil, handler.BadRequest("PHONE_NUMBER_INVALID")
	}
	m, err := h.store.PhoneUsers(ctx, []string{phone})
	if err != nil {
		return nil, err
	}
	if m[phone] == 0 {
		return nil, errPhoneNotOccupied
	}
	return h.resolved(ctx, c.UserID, m[phone])
}

func (h *Handlers) importContacts(ctx context.Context, c *handler.Call, req *api.ContactsImportContactsRequest) (tl.Object, error) {
	if len(req.Contacts) > maxImport {
		return nil, handler.ErrLimitInvalid
	}
	var phones []string
	for _, in := range req.Contacts {
		if p, ok := NormalizePhone(in.Phone); ok {
			phones = append(phones, p)
		}
	}
	found, err := h.store.PhoneUsers(ctx, phones)
	if err != nil {
		return nil, err
	}
	out := &api.ContactsImportedContacts{Imported: []*api.ImportedContact{}, PopularInvites: []*api.PopularContact{},
		RetryContacts: []int64{}}
	var ids []int64
	own := h.store.UserShard(c.UserID)
	for i, in := range req.Contacts {
		p, _ := NormalizePhone(in.Phone)
		uid := found[p]
		if uid == 0 || uid == c.UserID || !ValidName(in.FirstName) || !ValidName(in.LastName) {
			continue
		}
		_, err := h.store.Propose(ctx, own, account.ContactAdd{Owner: c.UserID, Contact: account.Contact{
			UserID: uid, FirstName: in.FirstName, LastName: in.LastName, Phone: p}}, RequestID(c, uint32(i)))
		if Code(err) == account.CodeTooMany {
			out.RetryContacts = append(out.RetryContacts, in.ClientID)
			continue
		}
		if err != nil {
			return nil, h.mapErr(err)
		}
		h.reverse(ctx, uid, c.UserID, true)
		out.Imported = append(out.Imported, &api.ImportedContact{UserID: uid, ClientID: in.ClientID})
		ids = append(ids, uid)
	}
	if out.Users, err = h.dir.Users(ctx, c.UserID, ids); err != nil {
		return nil, err
	}
	return out, nil
}

// reverse keeps the best-effort reverse index (who has target as a contact) used for status pushes.
func (h *Handlers) reverse(ctx context.Context, target, owner int64, add bool) {
	var op account.Op = account.RevAdd{Target: target, Owner: owner}
	if !add {
		op = account.RevDel{Target: target, Owner: owner}
	}
	if _, err := h.store.Propose(ctx, h.store.UserShard(target), op, zeroID); err != nil {
		h.log.Warn("contact reverse index", "target", target, "owner", owner, "err", err)
	}
}

func (h *Handlers) deleteContacts(ctx context.Context, c *handler.Call, req *api.ContactsDeleteContactsRequest) (tl.Object, error) {
	if len(req.ID) > maxImport {
		return nil, handler.ErrLimitInvalid
	}
	var ids []int64
	for _, in := range req.ID {
		id, err := h.access.InputUser(c.UserID, in)
		if err != nil {
			return nil, err
		}
		if id == c.UserID {
			continue
		}
		if _, err := h.store.Propose(ctx, h.store.UserShard(c.UserID), account.ContactDel{Owner: c.UserID,
			Target: id}, zeroID); err != nil {
			return nil, h.mapErr(err)
		}
		h.reverse(ctx, id, c.UserID, false)
		ids = append(ids, id)
	}
	us, err := h.dir.Users(ctx, c.UserID, ids)
	if err != nil {
		return nil, err
	}
	return &api.Updates{Updates: []api.UpdateClass{}, Users: us, Chats: []api.ChatClass{}, Date: h.date()}, nil
}

func (h *Handlers) getContacts(ctx context.Context, c *handler.Call, req *api.ContactsGetContactsRequest) (tl.Object, error) {
	cs, err := h.store.Contacts(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(cs))
	for i, ct := range cs {
		ids[i] = ct.UserID
	}
	if req.Hash != 0 && req.Hash == account.ContactsHash(ids) {
		return &api.ContactsContactsNotModified{}, nil
	}
	m, err := h.dir.Lookup(ctx, c.UserID, ids)
	if err != nil {
		return nil, err
	}
	out := &api.ContactsContacts{Contacts: []*api.Contact{}, Users: []api.UserClass{}}
	now := h.store.Now()
	for _, id := range ids {
		if e := m[id]; e != nil {
			out.Contacts = append(out.Contacts, &api.Contact{UserID: id, Mutual: e.HasViewer})
			out.Users = append(out.Users, h.dir.APIUser(c.UserID, e, now))
		}
	}
	return out, nil
}

func (h *Handlers) getStatuses(ctx context.Context, c *handler.Call, _ *api.ContactsGetStatusesRequest) (tl.Object, error) {
	cs, err := h.store.Contacts(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(cs))
	for i, ct := range cs {
		ids[i] = ct.UserID
	}
	m, err := h.dir.Lookup(ctx, c.UserID, ids)
	if err != nil {
		return nil, err
	}
	out := &api.ContactStatusVector{Elems: []*api.ContactStatus{}}
	now := h.store.Now()
	for _, id := range ids {
		if e := m[id]; e != nil {
			out.Elems = append(out.Elems, &api.ContactStatus{UserID: id, Status: Status(e.User, now)})
		}
	}
	return out, nil
}

func (h *Handlers) search(ctx context.Context, c *handler.Call, req *api.ContactsSearchRequest) (tl.Object, error) {
	q := toLower(strings.TrimSpace(strings.TrimPrefix(req.Q, "@")))
	if q == "" {
		return nil, handler.BadRequest("SEARCH_QUERY_EMPTY")
	}
	if len(q) > 64 {
		return nil, handler.BadRequest("QUERY_TOO_SHORT")
	}
	limit := min(max(req.Limit, 1), 100)
	n := h.store.Shards()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		ids  []int64
		ferr error
	)
	payload := account.SearchQuery{Viewer: c.UserID, Q: q, Limit: limit}.Encode()
	for sh := 0; sh < n; sh++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := h.store.Query(ctx, uint32(sh), account.QSearch, payload)
			var got []int64
			if err == nil {
				got, err = account.DecodeIDs(v)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				ferr = err
				return
			}
			ids = append(ids, got...)
		}()
	}
	wg.Wait()
	if ferr != nil {
		return nil, ferr
	}
	m, err := h.dir.Lookup(ctx, c.UserID, ids)
	if err != nil {
		return nil, err
	}
	out := &api.ContactsFound{MyResults: []api.PeerClass{}, Results: []api.PeerClass{}, Chats: []api.ChatClass{},
		Users: []api.UserClass{}}
	now := h.store.Now()
	seen := map[int64]bool{}
	for _, id := range ids {
		e := m[id]
		if e == nil || seen[id] || len(out.Users) >= int(limit) {
			continue
		}
		// A username match counts only if the user record holds it (not a claim in flight).
		if e.Rel.Contact == nil && !strings.HasPrefix(toLower(e.User.Username), q) {
			continue
		}
		seen[id] = true
		if e.Rel.Contact != nil {
			out.MyResults = append(out.MyResults, &api.PeerUser{UserID: id})
		} else {
			out.Results = append(out.Results, &api.PeerUser{UserID: id})
		}
		out.Users = append(out.Users, h.dir.APIUser(c.UserID, e, now))
	}
	return out, nil
}

func (h *Handlers) blockOp(ctx context.Context, c *handler.Call, peer api.InputPeerClass, blocked bool) (tl.Object, error) {
	id, err := h.access.InputPeer(c.UserID, peer)
	if err != nil {
		return nil, err
	}
	if id == c.UserID {
		return nil, handler.BadRequest("CONTACT_ID_INVALID")
	}
	var op account.Op = account.Block{Owner: c.UserID, Target: id}
	if !blocked {
		op = account.Unblock{Owner: c.UserID, Target: id}
	}
	if _, err := h.store.Propose(ctx, h.store.UserShard(c.UserID), op, zeroID); err != nil {
		return nil, h.mapErr(err)
	}
	h.pushLater([]int64{c.UserID}, c.SessionID, c.UserID, &api.UpdateShort{Date: h.date(),
		Update: &api.UpdatePeerBlocked{Blocked: blocked, PeerID: &api.PeerUser{UserID: id}}})
	return api.BoolOf(true), nil
}

func (h *Handlers) block(ctx context.Context, c *handler.Call, req *api.ContactsBlockRequest) (tl.Object, error) {
	return h.blockOp(ctx, c, req.ID, true)
}

func (h *Handlers) unblock(ctx context.Context, c *handler.Call, req *api.ContactsUnblockRequest) (tl.Object, error) {
	return h.blockOp(ctx, c, req.ID, false)
}

func (h *Handlers) getBlocked(ctx context.Context, c *handler.Call, req *api.ContactsGetBlockedRequest) (tl.Object, error) {
	v, err := h.store.Query(ctx, h.store.UserShard(c.UserID), account.QBlocked, account.EncodeID(c.UserID))
	if err != nil {
		return nil, err
	}
	all, err := account.DecodeBlocked(v)
	if err != nil {
		return nil, err
	}
	off := min(max(int(req.Offset), 0), len(all))
	limit := min(max(int(req.Limit), 1), 100)
	page := all[off:min(off+limit, len(all))]
	ids := make([]int64, len(page))
	list := make([]*api.PeerBlocked, len(page))
	for i, b := range page {
		ids[i] = b.UserID
		list[i] = &api.PeerBlocked{PeerID: &api.PeerUser{UserID: b.UserID}, Date: int32(b.Date / 1000)}
	}
	us, err := h.dir.Users(ctx, c.UserID, ids)
	if err != nil {
		return nil, err
	}
	if len(page) < len(all) {
		return &api.ContactsBlockedSlice{Count: int32(len(all)), Blocked: list, Chats: []api.ChatClass{}, Users: us}, nil
	}
	return &api.ContactsBlocked{Blocked: list, Chats: []api.ChatClass{}, Users: us}, nil
}

// addContact saves a user met elsewhere (a chat) as a contact, under the names given.
func (h *Handlers) addContact(ctx context.Context, c *handler.Call, req *api.ContactsAddContactRequest) (tl.Object, error) {
	id, err := h.access.InputUser(c.UserID, req.ID)
	if err != nil {
		return nil, err
	}
	if id == c.UserID || id == account.ServiceUserID {
		return nil, handler.BadRequest("CONTACT_ID_INVALID")
	}
	if req.FirstName == "" || !ValidName(req.FirstName) {
		return nil, handler.BadRequest("FIRSTNAME_INVALID")
	}
	if !ValidName(req.LastName) {
		return nil, handler.BadRequest("LASTNAME_INVALID")
	}
	phone, _ := NormalizePhone(req.Phone)
	if _, err := h.store.Propose(ctx, h.store.UserShard(c.UserID), account.ContactAdd{Owner: c.UserID,
		Contact: account.Contact{UserID: id, FirstName: req.FirstName, LastName: req.LastName, Phone: phone}},
		requestID(c)); err != nil {
		return nil, h.mapErr(err)
	}
	h.reverse(ctx, id, c.UserID, true)
	us, err := h.dir.Users(ctx, c.UserID, []int64{id})
	if err != nil {
		return nil, err
	}
	return &api.Updates{Updates: []api.UpdateClass{}, Users: us, Chats: []api.ChatClass{}, Date: h.date()}, nil
}
