package users

import "testing"

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{"+1 (555) 010-0": "15550100", "79991234567": "79991234567",
		"12": "", "+1 555 abc": "", "1234567890123456": ""} {
		got, ok := NormalizePhone(in)
		if ok != (want != "") || ok && got != want {
			t.Errorf("%q -> %q %v, want %q", in, got, ok, want)
		}
	}
}

func TestValidUsername(t *testing.T) {
	for in, want := range map[string]bool{"alice": true, "Alice_99": true, "ali": false, "1alice": false,
		"alice_": false, "al__ice": false, "al-ice": false, "abcdefghijabcdefghijabcdefghijabc": false} {
		if ValidUsername(in) != want {
			t.Errorf("%q: want %v", in, want)
		}
	}
}

func TestValidName(t *testing.T) {
	if !ValidName("Zoë") || ValidName("a\nb") || ValidName(string(make([]rune, 65))) {
		t.Error("ValidName")
	}
}
