package clients_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var (
	npmOnce sync.Once
	npmErr  error
)

// nodeScript runs js/<script> with node, installing js/node_modules first when a package is missing.
func nodeScript(script string) func(*testing.T, context.Context, string) ([]string, string) {
	return func(t *testing.T, ctx context.Context, _ string) ([]string, string) {
		node, err := exec.LookPath("node")
		if err != nil {
			t.Skip("node is not installed: ", err)
		}
		if _, err := exec.LookPath("npm"); err != nil {
			t.Skip("npm is not installed: ", err)
		}
		dir, err := filepath.Abs("js")
		if err != nil {
			t.Fatal(err)
		}
		npmOnce.Do(func() { npmErr = npmInstall(ctx, t, dir) })
		if npmErr != nil {
			t.Fatal(npmErr)
		}
		return []string{node, script}, dir
	}
}

// npmInstall runs `npm ci --ignore-scripts` when a package of package.json is missing. The install scripts are
// skipped because better-sqlite3's downloads a native build from the internet (mtcute runs on MemoryStorage).
func npmInstall(ctx context.Context, t *testing.T, dir string) error {
	complete := true
	for _, p := range []string{"@mtcute/node", "telegram"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", p, "package.json")); err != nil {
			complete = false
		}
	}
	if complete {
		return nil
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
	}
	t.Logf("npm ci --ignore-scripts: %v", time.Since(start).Round(time.Millisecond))
	return nil
}

// gotdBinary builds gotd/ against the gotd version its modfile names, once per test binary.
func gotdBinary(modfile string) func(*testing.T, context.Context, string) ([]string, string) {
	return func(t *testing.T, ctx context.Context, tmp string) ([]string, string) {
		dir, err := filepath.Abs("gotd")
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(tmp, "gotd-"+modfile)
		if _, err := os.Stat(bin); err == nil {
			return []string{bin}, dir
		}
		start := time.Now()
		args := []string{"build", "-modfile=" + modfile, "-o", bin}
		if raceEnabled && modfile == "go.mod" {
			// Only v0.160 shares its packages with the main module's -race tests; the old versions share nothing,
			// so they build without -race (a faster binary, and the same cache entries in every test mode).
			args = append(args, "-race")
		}
		cmd := exec.CommandContext(ctx, "go", append(args, ".")...)
		cmd.Dir = dir
		// Its own module, resolved from its own go.sum; never a workspace, never a rewrite of the mod files.
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build -modfile=%s: %v\n%s", modfile, err, out)
		}
		t.Logf("go build -modfile=%s: %v", modfile, time.Since(start).Round(time.Millisecond))
		return []string{bin}, dir
	}
}
