// Package users serves users.*, contacts.* and the profile methods of account.* (updateProfile,
// checkUsername, updateUsername, updateStatus) over fsm/account, and implements the Directory service: users as
// a viewer sees them (access hash for that viewer, self / contact / mutual flags, saved names, phone, status),
// one query per shard. Store is the thin client of the account state that node/handler/auth shares.
//
// It must never read a shard's state outside Node.Query (followers may be stale), hand out an access hash
// computed for another viewer, answer before a change committed, or import another domain's package.
package users
