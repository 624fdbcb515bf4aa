package main

import (
	"strings"
	"unicode"
)

// acronyms are words written in capitals in Go names (gotd's convention, so names are predictable).
var acronyms = map[string]string{
	"id": "ID", "ids": "IDs", "url": "URL", "urls": "URLs", "rpc": "RPC", "http": "HTTP", "https": "HTTPS",
	"dc": "DC", "ip": "IP", "api": "API", "json": "JSON", "sms": "SMS", "ttl": "TTL", "cdn": "CDN",
	"gif": "GIF", "uri": "URI", "md5": "MD5", "ipv4": "IPv4", "ipv6": "IPv6",
	"sha256": "SHA256", "uid": "UID", "tcp": "TCP", "udp": "UDP",
}

// words splits a TL identifier into words on '_', '.' and lower→upper case changes.
func words(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = cur[:0]
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case r == '_' || r == '.':
			flush()
		case unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1])):
			flush()
			cur = append(cur, r)
		case unicode.IsUpper(r) && i > 0 && unicode.IsUpper(rs[i-1]) && i+1 < len(rs) && unicode.IsLower(rs[i+1]):
			// "DHParams" -> "DH", "Params"
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return out
}

// goName converts a TL identifier to an exported Go name: inputPeerUser -> InputPeerUser,
// messages.sendMessage -> MessagesSendMessage, server_DH_params_ok -> ServerDHParamsOk, user_id -> UserID.
func goName(s string) string {
	var b strings.Builder
	for _, w := range words(s) {
		if a, ok := acronyms[strings.ToLower(w)]; ok {
			b.WriteString(a)
			continue
		}
		if w == strings.ToUpper(w) {
			b.WriteString(w)
			continue
		}
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	return b.String()
}

// goField converts a field name, avoiding the method names every generated type has.
func goField(s string) string {
	n := goName(s)
	switch n {
	case "TypeID", "TypeName", "Encode", "Decode", "String", "DecodeResult":
		n += "_"
	}
	return n
}
