package client

import (
	"context"
	"fmt"
	"sync"

	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/raftgram/raftgram/jepsen/history"
)

// KeyPrefix starts every register key the MTProto drivers record, so the KV checkers can leave them out.
const KeyPrefix = "mt:"

// MTRegisters runs register operations through MTProto:
//   - profile names: key "mt:name-<i>" is owner i's first name, written with account.updateProfile through
//     the owner's devices and read with users.getUsers through the owner's devices and the observer's (one
//     per node, with an access hash from contacts.resolvePhone, so no saved contact name hides the profile);
//   - usernames: key "mt:user-<name>" is who holds the username, claimed with account.updateUsername by the
//     claimers (one device each) and read with contacts.resolveUsername through the observer.
type MTRegisters struct {
	opts     MTOptions
	rec      *history.Recorder
	prefix   string
	owners   []*regUser
	observer *regUser
	claimers []*regUser
}

type regUser struct {
	label string
	phone string
	id    int64
	devs  []*mtDevice
	hash  map[int64]int64 // (observer) owner's id -> access hash
}

// NewMTRegisters builds the driver: owners profile owners with ownerDevices devices each (owner i's device d
// on node (i+d) mod nodes), one observer with a device per node, claimers claimers with one device each
// (claimer j on node j mod nodes).
func NewMTRegisters(rec *history.Recorder, opts MTOptions, owners, ownerDevices, claimers int, phonePrefix string) *MTRegisters {
	opts.setDefaults()
	r := &MTRegisters{opts: opts, rec: rec, prefix: phonePrefix}
	nodes := len(opts.Addrs)
	n := 0
	mk := func(label string, devs int, node func(d int) int) *regUser {
		n++
		u := &regUser{label: label, phone: fmt.Sprintf("%s%03d", phonePrefix, n), hash: map[int64]int64{}}
		for d := range devs {
			u.devs = append(u.devs, newDevice(&r.opts, node(d), nil))
		}
		return u
	}
	for i := range owners {
		r.owners = append(r.owners, mk(fmt.Sprintf("p%d", i), ownerDevices, func(d int) int { return (i + d) % nodes }))
	}
	r.observer = mk("observer", nodes, func(d int) int { return d })
	for j := range claimers {
		r.claimers = append(r.claimers, mk(fmt.Sprintf("c%d", j), 1, func(int) int { return j % nodes }))
	}
	return r
}

// Owners, ObserverDevices and Claimers size the workloads.
func (r *MTRegisters) Owners() int          { return len(r.owners) }
func (r *MTRegisters) OwnerDevices() int    { return len(r.owners[0].devs) }
func (r *MTRegisters) ObserverDevices() int { return len(r.observer.devs) }
func (r *MTRegisters) Claimers() int        { return len(r.claimers) }

func (r *MTRegisters) all() []*regUser {
	return append(append(append([]*regUser(nil), r.owners...), r.observer), r.claimers...)
}

// Setup connects and signs in every device, and gives the observer access hashes for the owners.
func (r *MTRegisters) Setup(ctx context.Context) error {
	var wg sync.WaitGroup
	users := r.all()
	errs := make(chan error, len(users))
	sem := make(chan struct{}, setupParallel)
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{} // a few users at a time: each new key costs seconds of CPU under load
			defer func() { <-sem }()
			for _, d := range u.devs {
				if err := retry(ctx, r.opts.Log, "connect", d.start); err != nil {
					errs <- err
					return
				}
				if err := retry(ctx, r.opts.Log, "login "+u.phone, func(ctx context.Context) error {
					id, err := d.login(ctx, u.phone, u.label)
					u.id = id
					return err
				}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	for _, o := range r.owners {
		if err := retry(ctx, r.opts.Log, "resolve", func(ctx context.Context) error {
			id, h, err := resolvePhone(ctx, r.observer.devs[0].api(), o.phone)
			if err == nil && id != o.id {
				err = fmt.Errorf("%s resolved to %d, signed up as %d", o.phone, id, o.id)
			}
			r.observer.hash[o.id] = h
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// Close stops every device.
func (r *MTRegisters) Close() {
	for _, u := range r.all() {
		for _, d := range u.devs {
			d.close()
		}
	}
}

// NameKey is the register key of owner i's first name.
func NameKey(owner int) string { return fmt.Sprintf("%sname-%d", KeyPrefix, owner) }

// UserKey is the register key of a username.
func UserKey(name string) string { return KeyPrefix + "user-" + name }

// complete records the completion of a write: ok, fail for a definite refusal, info otherwise.
func (r *MTRegisters) complete(inv history.Event, err error) history.Event {
	done := inv
	switch {
	case err == nil:
		done.Type = history.OK
	case IsDefinite(err):
		done.Type, done.Error = history.Fail, err.Error()
	default:
		done.Type, done.Error = history.Info, err.Error()
	}
	return r.rec.Add(done)
}

// PutName sets owner's first name to value through its device dev.
func (r *MTRegisters) PutName(ctx context.Context, process, owner, dev int, value string) history.Event {
	d := r.owners[owner].devs[dev]
	inv := r.rec.Add(history.Event{Type: history.Invoke, Process: process, Node: d.node, F: "put", Key: NameKey(owner),
		Value: value})
	err := d.use(ctx, func(ctx context.Context, api *tg.Client) error {
		req := &tg.AccountUpdateProfileRequest{}
		req.SetFirstName(value)
		_, err := api.AccountUpdateProfile(ctx, req)
		return classify(err)
	})
	return r.complete(inv, err)
}

// GetName reads owner's first name with users.getUsers: through the owner's device dev when self, else
// through the observer's device dev.
func (r *MTRegisters) GetName(ctx context.Context, process, owner, dev int, self bool) history.Event {
	o := r.owners[owner]
	d, in := r.observer.devs[dev], tg.InputUserClass(&tg.InputUser{UserID: o.id, AccessHash: r.observer.hash[o.id]})
	if self {
		d, in = o.devs[dev], &tg.InputUserSelf{}
	}
	inv := r.rec.Add(history.Event{Type: history.Invoke, Process: process, Node: d.node, F: "get", Key: NameKey(owner)})
	var name string
	err := d.use(ctx, func(ctx context.Context, api *tg.Client) error {
		us, err := api.UsersGetUsers(ctx, []tg.InputUserClass{in})
		if err != nil {
			return err
		}
		for _, x := range us {
			if u, ok := x.(*tg.User); ok && u.ID == o.id {
				name = u.FirstName
				return nil
			}
		}
		return fmt.Errorf("users.getUsers: user %d not in the answer (%d users)", o.id, len(us))
	})
	done := inv
	if err != nil {
		done.Type, done.Error = history.Fail, err.Error() // a read has no effect
	} else {
		done.Type, done.Value = history.OK, name
	}
	return r.rec.Add(done)
}

// Claim asks for username name as claimer j (account.updateUsername): ok when it got it, ok with Mismatch when
// the server said USERNAME_OCCUPIED (someone else holds it), fail on another refusal, info otherwise.
func (r *MTRegisters) Claim(ctx context.Context, process, j int, name string) history.Event {
	c := r.claimers[j]
	d := c.devs[0]
	inv := r.rec.Add(history.Event{Type: history.Invoke, Process: process, Node: d.node, F: "claim", Key: UserKey(name),
		Value: c.label, Absent: true})
	err := d.use(ctx, func(ctx context.Context, api *tg.Client) error {
		_, err := api.AccountUpdateUsername(ctx, name)
		return err
	})
	if tgerr.Is(err, "USERNAME_OCCUPIED") {
		done := inv
		done.Type, done.Mismatch = history.OK, true
		return r.rec.Add(done)
	}
	return r.complete(inv, classify(err))
}

// ResolveName reads who holds username name through the observer's device dev (contacts.resolveUsername).
func (r *MTRegisters) ResolveName(ctx context.Context, process, dev int, name string, final bool) history.Event {
	d := r.observer.devs[dev]
	inv := r.rec.Add(history.Event{Type: history.Invoke, Process: process, Node: d.node, F: "get", Key: UserKey(name),
		Final: final})
	var owner string
	absent := false
	err := d.use(ctx, func(ctx context.Context, api *tg.Client) error {
		res, err := api.ContactsResolveUsername(ctx, &tg.ContactsResolveUsernameRequest{Username: name})
		if tgerr.Is(err, "USERNAME_NOT_OCCUPIED") {
			absent = true
			return nil
		}
		if err != nil {
			return err
		}
		p, ok := res.Peer.(*tg.PeerUser)
		if !ok {
			return fmt.Errorf("contacts.resolveUsername answered peer %T", res.Peer)
		}
		owner = fmt.Sprintf("id%d", p.UserID) // someone who never claimed it
		for _, c := range r.claimers {
			if c.id == p.UserID {
				owner = c.label
			}
		}
		return nil
	})
	done := inv
	switch {
	case err != nil:
		done.Type, done.Error = history.Fail, err.Error()
	case absent:
		done.Type, done.Absent = history.OK, true
	default:
		done.Type, done.Value = history.OK, owner
	}
	return r.rec.Add(done)
}
