package auth_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotd/td/telegram"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"

	"github.com/raftgram/raftgram/fsm"
	"github.com/raftgram/raftgram/fsm/account"
	"github.com/raftgram/raftgram/node/handler/auth"
	"github.com/raftgram/raftgram/tl/api"
)

// runAsync runs fn with a connected client in a goroutine; the returned func waits and gives its error.
func (e *env) runAsync(c *telegram.Client, fn func(ctx context.Context, api *tg.Client) error) func() error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		defer cancel()
		done <- c.Run(ctx, func(ctx context.Context) error { return fn(ctx, c.API()) })
	}()
	return func() error { return <-done }
}

// TestConcurrentSignUpsOnePhone: two clients verify codes for one phone and sign up at the same moment: one
// user is created, the other client gets PHONE_NUMBER_OCCUPIED and then signs in to that same user.
func TestConcurrentSignUpsOnePhone(t *testing.T) {
	e := startEnv(t, 3, auth.Limits{}, nil)
	const phone = "15550300"
	var (
		ready sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		ids   []int64
		errs  []string
	)
	ready.Add(1)
	worker := func(c *telegram.Client) func() error {
		return e.runAsync(c, func(ctx context.Context, api *tg.Client) error {
			s, err := api.AuthSendCode(ctx, &tg.AuthSendCodeRequest{PhoneNumber: phone, APIID: 1, APIHash: "x"})
			if err != nil {
				ready.Done()
				return err
			}
			sent := s.(*tg.AuthSentCode)
			code, err := e.codeFor(ctx, phone, sent, 0)
			if err == nil {
				_, err = api.AuthSignIn(ctx, &tg.AuthSignInRequest{PhoneNumber: phone, PhoneCodeHash: sent.PhoneCodeHash, PhoneCode: code})
			}
			ready.Done()
			if err != nil {
				return err
			}
			<-start
			r, err := api.AuthSignUp(ctx, &tg.AuthSignUpRequest{PhoneNumber: phone, PhoneCodeHash: sent.PhoneCodeHash,
				FirstName: "Same"})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, errType(err))
				return nil
			}
			ids = append(ids, r.(*tg.AuthAuthorization).User.(*tg.User).ID)
			return nil
		})
	}
	// Codes are looked up by phone: send them one after the other, then race the sign-ups.
	w1 := worker(e.client("one"))
	ready.Wait()
	ready.Add(1)
	w2 := worker(e.client("two"))
	ready.Wait()
	close(start)
	if err := w1(); err != nil {
		t.Fatal(err)
	}
	if err := w2(); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || len(errs) != 1 || errs[0] != "PHONE_NUMBER_OCCUPIED" {
		t.Fatalf("sign-ups: users %v, errors %v", ids, errs)
	}
	m, err := e.store().PhoneUsers(context.Background(), []string{phone})
	if err != nil || m[phone] != ids[0] {
		t.Fatalf("phone -> %v (%v), want %d", m, err, ids[0])
	}
	// Another client signs in to that user.
	c := e.client("three")
	e.run(c, func(ctx context.Context, _ *tg.Client) error {
		me, err := e.login(ctx, c, phone, "", ids[0])
		if err == nil && me.ID != ids[0] {
			t.Errorf("signed in as %d, want %d", me.ID, ids[0])
		}
		return err
	})
}

// phonesOnShards returns one phone per shard, so the users created with them live on different shards.
func phonesOnShards(n int, base int) []string {
	out := make([]string, n)
	found := 0
	for i := base; found < n; i++ {
		p := fmt.Sprintf("1555%04d", i)
		if s := account.PhoneShard(p, n); out[s] == "" {
			out[s] = p
			found++
		}
	}
	return out
}

// TestUsersAndContactsAcrossShards: three users on three shards (one node): contacts import / get with hash /
// delete, access hashes per viewer (another viewer's hash is USER_ID_INVALID), users.getFullUser, concurrent
// claims of one username (one winner; freed on change), resolveUsername / resolvePhone / search, status and
// name pushes to the users who have the user as a contact, block / unblock / getBlocked.
func TestUsersAndContactsAcrossShards(t *testing.T) {
	e := startEnv(t, 3, auth.Limits{}, nil)
	phones := phonesOnShards(3, 400)
	ca, cb, cc := e.client("A"), e.client("B"), e.client("C")
	e.run(ca, func(ctx context.Context, a *tg.Client) error {
		ua, err := e.login(ctx, ca, phones[0], "Ann", 0)
		if err != nil {
			return err
		}
		e.run(cb, func(ctx context.Context, b *tg.Client) error {
			ub, err := e.login(ctx, cb, phones[1], "Bob", 0)
			if err != nil {
				return err
			}
			e.run(cc, func(ctx context.Context, c *tg.Client) error {
				uc, err := e.login(ctx, cc, phones[2], "Cid", 0)
				if err != nil {
					return err
				}
				shards := map[uint32]bool{}
				for _, u := range []*tg.User{ua, ub, uc} {
					shards[account.UserShard(u.ID, 3)] = true
				}
				if len(shards) != 3 {
					t.Errorf("users not on three shards: %d %d %d", ua.ID, ub.ID, uc.ID)
				}
				crossShard(ctx, t, e, a, b, c, ua, ub, uc)
				return nil
			})
			return nil
		})
		return nil
	})
}

func crossShard(ctx context.Context, t *testing.T, e *env, a, b, c *tg.Client, ua, ub, uc *tg.User) {
	// Import: B and C are found, an unknown phone is not.
	imp, err := a.ContactsImportContacts(ctx, []tg.InputPhoneContact{
		{ClientID: 1, Phone: "+" + ub.Phone, FirstName: "Bobby"},
		{ClientID: 2, Phone: uc.Phone, FirstName: "Cid"},
		{ClientID: 3, Phone: "1999000111", FirstName: "Nobody"},
	})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if len(imp.Imported) != 2 || len(imp.Users) != 2 {
		t.Fatalf("imported %+v users %d", imp.Imported, len(imp.Users))
	}
	hashOf := map[int64]int64{}
	for _, u := range imp.Users {
		u := u.(*tg.User)
		hashOf[u.ID] = u.AccessHash
		if !u.Contact || u.Phone == "" || u.Self {
			t.Errorf("imported user flags: %+v", u)
		}
		if u.ID == ub.ID && u.FirstName != "Bobby" {
			t.Errorf("B as A saved it: %q", u.FirstName)
		}
	}
	// Contacts with hash.
	cs, err := a.ContactsGetContacts(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	list, ok := cs.(*tg.ContactsContacts)
	if !ok || len(list.Contacts) != 2 {
		t.Fatalf("getContacts: %+v", cs)
	}
	hash := account.ContactsHash([]int64{ub.ID, uc.ID})
	if cs, err := a.ContactsGetContacts(ctx, hash); err != nil {
		t.Fatal(err)
	} else if _, ok := cs.(*tg.ContactsContactsNotModified); !ok {
		t.Errorf("getContacts(same hash) = %T", cs)
	}
	// B adds A back: mutual.
	if _, err := b.ContactsImportContacts(ctx, []tg.InputPhoneContact{{ClientID: 1, Phone: ua.Phone, FirstName: "Ann"}}); err != nil {
		t.Fatal(err)
	}
	cs, _ = a.ContactsGetContacts(ctx, 0)
	for _, ct := range cs.(*tg.ContactsContacts).Contacts {
		if ct.UserID == ub.ID && !ct.Mutual || ct.UserID == uc.ID && ct.Mutual {
			t.Errorf("mutual flags: %+v", cs.(*tg.ContactsContacts).Contacts)
		}
	}

	// Access hashes are per viewer.
	if _, err := a.UsersGetFullUser(ctx, &tg.InputUser{UserID: ub.ID, AccessHash: ub.AccessHash}); !tgerr.Is(err, "USER_ID_INVALID") {
		t.Errorf("A with B's own hash: %v", err)
	}
	full, err := a.UsersGetFullUser(ctx, &tg.InputUser{UserID: ub.ID, AccessHash: hashOf[ub.ID]})
	if err != nil {
		t.Fatalf("getFullUser: %v", err)
	}
	if full.FullUser.ID != ub.ID || len(full.Users) != 1 {
		t.Errorf("full user: %+v", full)
	}
	got, err := c.UsersGetUsers(ctx, []tg.InputUserClass{&tg.InputUser{UserID: ua.ID, AccessHash: 12345}, &tg.InputUserSelf{}})
	if err != nil || len(got) != 1 || got[0].(*tg.User).ID != uc.ID {
		t.Errorf("getUsers with a forged hash: %v %v", got, err)
	}

	// The chat action bar: C (no contacts) is offered to add or block A; A has B as a contact: no bar.
	rp, err := c.ContactsResolvePhone(ctx, ua.Phone)
	if err != nil {
		t.Fatalf("C resolves A's phone: %v", err)
	}
	aForC := rp.Users[0].(*tg.User)
	ps, err := c.MessagesGetPeerSettings(ctx, &tg.InputPeerUser{UserID: ua.ID, AccessHash: aForC.AccessHash})
	if err != nil || !ps.Settings.AddContact || !ps.Settings.BlockContact || len(ps.Users) != 1 {
		t.Errorf("C's peer settings for A: %+v %v", ps, err)
	}
	if full, err := c.UsersGetFullUser(ctx, &tg.InputUser{UserID: ua.ID, AccessHash: aForC.AccessHash}); err != nil ||
		!full.FullUser.Settings.AddContact {
		t.Errorf("C's full user A: %+v %v", full, err)
	}
	for _, p := range []tg.InputPeerClass{&tg.InputPeerUser{UserID: ub.ID, AccessHash: hashOf[ub.ID]}, &tg.InputPeerSelf{}} {
		if ps, err := a.MessagesGetPeerSettings(ctx, p); err != nil || ps.Settings.AddContact || ps.Settings.BlockContact {
			t.Errorf("A's peer settings for %v: %+v %v", p, ps, err)
		}
	}
	if _, err := c.MessagesGetPeerSettings(ctx, &tg.InputPeerUser{UserID: ua.ID, AccessHash: 1}); !tgerr.Is(err, "PEER_ID_INVALID") {
		t.Errorf("peer settings with a forged hash: %v", err)
	}
	if ph, err := c.PhotosGetUserPhotos(ctx, &tg.PhotosGetUserPhotosRequest{UserID: &tg.InputUser{UserID: ua.ID,
		AccessHash: aForC.AccessHash}, Limit: 10}); err != nil || len(ph.GetPhotos()) != 0 {
		t.Errorf("getUserPhotos: %+v %v", ph, err)
	}
	if _, err := c.PhotosGetUserPhotos(ctx, &tg.PhotosGetUserPhotosRequest{UserID: &tg.InputUser{UserID: ua.ID,
		AccessHash: 1}, Limit: 10}); !tgerr.Is(err, "USER_ID_INVALID") {
		t.Errorf("getUserPhotos with a forged hash: %v", err)
	}

	// Concurrent claims of one username: one winner.
	const name = "shared_name"
	var wg sync.WaitGroup
	res := make([]error, 2)
	for i, cl := range []*tg.Client{a, c} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, res[i] = cl.AccountUpdateUsername(ctx, name)
		}()
	}
	wg.Wait()
	winner, loser, lc := ua, uc, c
	switch {
	case res[0] == nil && tgerr.Is(res[1], "USERNAME_OCCUPIED"):
	case res[1] == nil && tgerr.Is(res[0], "USERNAME_OCCUPIED"):
		winner, loser, lc = uc, ua, a
	default:
		t.Fatalf("username race: %v / %v", res[0], res[1])
	}
	r, err := b.ContactsResolveUsername(ctx, &tg.ContactsResolveUsernameRequest{Username: "Shared_Name"})
	if err != nil || r.Peer.(*tg.PeerUser).UserID != winner.ID {
		t.Fatalf("resolve: %+v %v", r, err)
	}
	if ok, err := lc.AccountCheckUsername(ctx, name); err != nil || ok {
		t.Errorf("checkUsername for the loser: %v %v", ok, err)
	}
	if _, err := lc.AccountCheckUsername(ctx, "1bad"); !tgerr.Is(err, "USERNAME_INVALID") {
		t.Errorf("invalid: %v", err)
	}
	wc := a
	if winner.ID == uc.ID {
		wc = c
	}
	if _, err := wc.AccountUpdateUsername(ctx, name); !tgerr.Is(err, "USERNAME_NOT_MODIFIED") {
		t.Errorf("same name again: %v", err)
	}
	if _, err := wc.AccountUpdateUsername(ctx, "other_name"); err != nil {
		t.Fatal(err)
	}
	if u, err := lc.AccountUpdateUsername(ctx, name); err != nil {
		t.Errorf("freed name not claimable: %v", err)
	} else if u.(*tg.User).Username != name {
		t.Errorf("loser's user after the change: %+v", u)
	}
	found, err := b.ContactsSearch(ctx, &tg.ContactsSearchRequest{Q: "shared", Limit: 10})
	// B has A as a contact: a contact lands in my_results, anyone else in results.
	if err != nil || len(found.Users) != 1 || found.Users[0].(*tg.User).ID != loser.ID ||
		len(found.Results)+len(found.MyResults) != 1 {
		t.Errorf("search: %+v %v", found, err)
	}
	if rp, err := b.ContactsResolvePhone(ctx, ua.Phone); err != nil || rp.Peer.(*tg.PeerUser).UserID != ua.ID {
		t.Errorf("resolvePhone: %v %v", rp, err)
	}

	// Status and name pushes reach A, who has B as a contact.
	if _, err := b.AccountUpdateStatus(ctx, false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AccountUpdateProfile(ctx, &tg.AccountUpdateProfileRequest{FirstName: "Robert"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var status, rename bool
		for _, u := range e.fakes.pushesTo(ua.ID) {
			switch u := u.(type) {
			case *api.UpdateUserStatus:
				_, online := u.Status.(*api.UserStatusOnline)
				status = status || (u.UserID == ub.ID && online)
			case *api.UpdateUserName:
				rename = rename || (u.UserID == ub.ID && u.FirstName == "Robert")
			}
		}
		if status && rename {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pushes to A: status %v, name %v", status, rename)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Block, list, unblock.
	peerC := &tg.InputPeerUser{UserID: uc.ID, AccessHash: hashOf[uc.ID]}
	if ok, err := a.ContactsBlock(ctx, &tg.ContactsBlockRequest{ID: peerC}); err != nil || !ok {
		t.Fatalf("block: %v %v", ok, err)
	}
	bl, err := a.ContactsGetBlocked(ctx, &tg.ContactsGetBlockedRequest{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := bl.(*tg.ContactsBlocked); !ok || len(l.Blocked) != 1 || len(l.Users) != 1 {
		t.Errorf("getBlocked: %+v", bl)
	}
	if full, err := a.UsersGetFullUser(ctx, &tg.InputUser{UserID: uc.ID, AccessHash: hashOf[uc.ID]}); err != nil || !full.FullUser.Blocked {
		t.Errorf("full user of a blocked user: %v", err)
	}
	if _, err := a.ContactsUnblock(ctx, &tg.ContactsUnblockRequest{ID: peerC}); err != nil {
		t.Fatal(err)
	}
	if bl, _ := a.ContactsGetBlocked(ctx, &tg.ContactsGetBlockedRequest{Limit: 10}); len(bl.(*tg.ContactsBlocked).Blocked) != 0 {
		t.Errorf("still blocked: %+v", bl)
	}

	// C saves A (met in a chat) under another name.
	if up, err := c.ContactsAddContact(ctx, &tg.ContactsAddContactRequest{ID: &tg.InputUser{UserID: ua.ID,
		AccessHash: ua.AccessHash}, FirstName: "x"}); !tgerr.Is(err, "USER_ID_INVALID") {
		t.Errorf("addContact with A's own hash: %v %v", up, err)
	}
	var hashCA int64
	if r, err := c.ContactsResolvePhone(ctx, ua.Phone); err == nil {
		hashCA = r.Users[0].(*tg.User).AccessHash
	}
	if up, err := c.ContactsAddContact(ctx, &tg.ContactsAddContactRequest{ID: &tg.InputUser{UserID: ua.ID,
		AccessHash: hashCA}, FirstName: "Annie"}); err != nil {
		t.Errorf("addContact: %v", err)
	} else if u := up.(*tg.Updates).Users[0].(*tg.User); !u.Contact || !u.MutualContact || u.FirstName != "Annie" {
		t.Errorf("added contact: %+v", u)
	}

	// Delete C: the hash changes, one contact left.
	if _, err := a.ContactsDeleteContacts(ctx, []tg.InputUserClass{&tg.InputUser{UserID: uc.ID, AccessHash: hashOf[uc.ID]}}); err != nil {
		t.Fatal(err)
	}
	cs, err = a.ContactsGetContacts(ctx, hash)
	if l, ok := cs.(*tg.ContactsContacts); err != nil || !ok || len(l.Contacts) != 1 || l.Contacts[0].UserID != ub.ID {
		t.Errorf("after delete: %+v %v", cs, err)
	}
}

// TestCutUsernameClaimSettles (Jepsen bug 1): an updateUsername cut between its claim (name's shard) and its
// confirmation (user's shard) is rolled forward by the next reader or claimant — the name belongs to the user
// whose claim applied, as resolveUsername and every other claimant then agree — and a claim whose attempt was
// superseded by the owner's next attempt is freed for others.
func TestCutUsernameClaimSettles(t *testing.T) {
	e := startEnv(t, 3, auth.Limits{}, nil)
	phones := phonesOnShards(3, 400)
	ca, cb := e.client("A"), e.client("B")
	e.run(ca, func(ctx context.Context, a *tg.Client) error {
		ua, err := e.login(ctx, ca, phones[0], "Ann", 0)
		if err != nil {
			return err
		}
		e.run(cb, func(ctx context.Context, b *tg.Client) error {
			if _, err := e.login(ctx, cb, phones[1], "Bob", 0); err != nil {
				return err
			}
			st := e.store()
			n := st.Shards()
			cut := func(uid int64, name string, nonce int64) {
				t.Helper()
				lower := strings.ToLower(name)
				if _, err := st.Propose(ctx, st.UserShard(uid), account.NamePending{UserID: uid, Name: name, Nonce: nonce}, fsm.RequestID{}); err != nil {
					t.Fatal(err)
				}
				if _, err := st.Propose(ctx, account.NameShard(lower, n), account.NameClaim{Name: lower, UserID: uid, Nonce: nonce}, fsm.RequestID{}); err != nil {
					t.Fatal(err)
				}
			}
			// 1. A's attempt is cut after its claim: B is refused, and the name resolves to A.
			cut(ua.ID, "AnnCut", 11)
			if _, err := b.AccountUpdateUsername(ctx, "anncut"); !tg.IsUsernameOccupied(err) {
				t.Fatalf("claim of a cut-but-claimed name: %v, want USERNAME_OCCUPIED", err)
			}
			res, err := b.ContactsResolveUsername(ctx, &tg.ContactsResolveUsernameRequest{Username: "anncut"})
			if err != nil || len(res.Users) != 1 || res.Users[0].GetID() != ua.ID {
				t.Fatalf("resolve after roll-forward: %+v %v", res, err)
			}
			if u, ok, err := st.User(ctx, ua.ID); err != nil || !ok || u.Username != "AnnCut" {
				t.Fatalf("A's record after roll-forward: %+v %v %v", u, ok, err)
			}
			// 2. A's next attempt starts (its pending slot now names another name) and is cut before it could
			// free the old claim... of a name A does not hold: make a fresh cut claim, then supersede it.
			cut(ua.ID, "AnnOld", 12)
			if _, err := st.Propose(ctx, st.UserShard(ua.ID), account.NamePending{UserID: ua.ID, Name: "AnnNew", Nonce: 13}, fsm.RequestID{}); err != nil {
				t.Fatal(err)
			}
			if _, err := b.AccountUpdateUsername(ctx, "AnnOld"); err != nil {
				t.Fatalf("claim of a dead attempt's name: %v, want success", err)
			}
			res, err = a.ContactsResolveUsername(ctx, &tg.ContactsResolveUsernameRequest{Username: "annold"})
			if err != nil || len(res.Users) != 1 || res.Users[0].GetID() == ua.ID {
				t.Fatalf("annold resolves to %+v %v, want B", res, err)
			}
			return nil
		})
		return nil
	})
}
