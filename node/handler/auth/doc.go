// Package auth is the account domain of the messenger (its Builder is New): auth.sendCode / resendCode /
// cancelCode / signIn / signUp / logOut, account.getAuthorizations / resetAuthorization,
// auth.resetAuthorizations, the Sessions service (a key's signed-in user in Raft and on every node's gateway),
// login code delivery (service messages, an operator command, the /codes admin endpoint, a dev code), and the
// wiring of node/handler/users (users.*, contacts.*, profile, the Directory service) over fsm/account.
//
// It must never decide state outside the FSM (codes, attempts, uniqueness are decided in fsm/account's Apply),
// run the code command through a shell or without a time limit, answer a client before its change committed,
// or import another domain's package (it uses handler.Services).
package auth
