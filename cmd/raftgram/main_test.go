package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestConfigFileFillsUnsetFlags(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(cfg, []byte(`{"data-dir": "/from/file", "admin": "127.0.0.1:9", "debug-api": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newFlags("serve")
	sf := addServeFlags(c)
	pos, err := c.parse([]string{"--config", cfg, "--admin", "127.0.0.1:8", "extra"})
	if err != nil {
		t.Fatal(err)
	}
	if *sf.dir != "/from/file" || *sf.admin != "127.0.0.1:8" || !*sf.debugAPI {
		t.Fatalf("dir=%q admin=%q debug=%v: command line must win, file fills the rest", *sf.dir, *sf.admin, *sf.debugAPI)
	}
	if len(pos) != 1 || pos[0] != "extra" {
		t.Fatalf("positional args: %v", pos)
	}
	if err := os.WriteFile(cfg, []byte(`{"no-such-flag": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c = newFlags("serve")
	addServeFlags(c)
	if _, err := c.parse([]string{"--config", cfg}); err == nil {
		t.Fatal("unknown config key accepted")
	}
}
