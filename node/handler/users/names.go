package users

import "strings"

func toLower(s string) string { return strings.ToLower(s) }

// ValidUsername reports whether s is a username Telegram accepts: 5..32 of a-z, A-Z, 0-9 and _, starting
// with a letter, not ending with _ and without "__".
func ValidUsername(s string) bool {
	if len(s) < 5 || len(s) > 32 || strings.Contains(s, "__") || s[len(s)-1] == '_' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !letter {
			return false
		}
		if !letter && !(c >= '0' && c <= '9') && c != '_' {
			return false
		}
	}
	return true
}

// NormalizePhone strips '+', spaces, dashes, dots and parentheses; ok is false unless 5..15 digits remain
// (E.164 allows at most 15).
func NormalizePhone(s string) (string, bool) {
	if len(s) > 64 {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == '+' || c == ' ' || c == '-' || c == '(' || c == ')' || c == '.':
		default:
			return "", false
		}
	}
	p := b.String()
	return p, len(p) >= 5 && len(p) <= 15
}

// ValidName reports whether a first or last name is acceptable (at most 64 characters, no control bytes).
func ValidName(s string) bool {
	if len([]rune(s)) > 64 {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
