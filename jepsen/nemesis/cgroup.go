package nemesis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// nftCgroupRoot is where nft resolves `socket cgroupv2` paths from.
const nftCgroupRoot = "/sys/fs/cgroup"

// Cgroups is a tree of per-node cgroups v2 under the cgroup2 mount: <mount>/<Name>/n1, n2, ...
type Cgroups struct {
	Mount string // where cgroup2 is mounted (/sys/fs/cgroup or /sys/fs/cgroup/unified)
	Name  string // this run's directory, e.g. raftgram-jepsen-1234
}

// FindCgroup2 returns the cgroup2 mount point from /proc/self/mountinfo.
func FindCgroup2() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("cgroup2: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint opts... - fstype source superopts
		fields := strings.Fields(sc.Text())
		for i, x := range fields {
			if x == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" && len(fields) > 4 {
				return fields[4], nil
			}
		}
	}
	return "", errors.New("cgroup2: no cgroup2 mount (need cgroup v2 for per-node packet filtering)")
}

// NewCgroups creates <mount>/<name> (and nothing else yet).
func NewCgroups(name string) (*Cgroups, error) {
	m, err := FindCgroup2()
	if err != nil {
		return nil, err
	}
	if m != nftCgroupRoot && !strings.HasPrefix(m, nftCgroupRoot+"/") {
		return nil, fmt.Errorf("cgroup2 is mounted at %s, outside %s where nft resolves cgroup paths", m, nftCgroupRoot)
	}
	c := &Cgroups{Mount: m, Name: name}
	if err := os.MkdirAll(filepath.Join(m, name), 0o755); err != nil {
		return nil, fmt.Errorf("cgroup2: create %s: %w", name, err)
	}
	return c, nil
}

// Dir is node's cgroup directory (node is a data dir base name such as "n1").
func (c *Cgroups) Dir(node string) string { return filepath.Join(c.Mount, c.Name, node) }

// Add creates node's cgroup (nft resolves a rule's path when the rule is loaded, so it must exist first) and
// returns it as nft names it (relative to /sys/fs/cgroup) with its level in the cgroup2 tree.
func (c *Cgroups) Add(node string) (string, int, error) {
	if err := os.MkdirAll(c.Dir(node), 0o755); err != nil {
		return "", 0, fmt.Errorf("cgroup2: create %s: %w", node, err)
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(c.Dir(node), nftCgroupRoot), "/")
	return rel, 2, nil // <mount>/<run>/<node>: two levels below the cgroup2 root
}

// Wrapper writes an executable script at path that puts the process into the cgroup named after the base name of
// its --data-dir argument (n1, n2, ...) and then execs bin with the same arguments. testcluster runs it as
// RAFTGRAM_BIN, so every node socket is created inside its node's cgroup.
func (c *Cgroups) Wrapper(path, bin string) error {
	script := fmt.Sprintf(`#!/bin/sh
# Written by the raftgram Jepsen runner: run raftgram inside the cgroup of its node, for nft partitions.
dir=""
prev=""
for a in "$@"; do
	case "$a" in --data-dir=*) dir="${a#--data-dir=}" ;; esac
	[ "$prev" = "--data-dir" ] && dir="$a"
	prev="$a"
done
if [ -n "$dir" ]; then
	cg=%q/"$(basename "$dir")"
	mkdir -p "$cg" && echo $$ > "$cg/cgroup.procs" || { echo "jepsen wrapper: cannot enter $cg" >&2; exit 70; }
fi
exec %q "$@"
`, filepath.Join(c.Mount, c.Name), bin)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		return fmt.Errorf("wrapper: %w", err)
	}
	return nil
}

// Close removes the node cgroups and the run's directory. Processes still inside make it fail; the caller
// kills them first. A cgroup stays busy for a moment after its last process died, so it retries briefly.
func (c *Cgroups) Close() error {
	var err error
	for try := 0; try < 20; try++ {
		if err = removeTree(filepath.Join(c.Mount, c.Name)); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

func removeTree(base string) error {
	ents, err := os.ReadDir(base)
	if os.IsNotExist(err) {
		return nil
	}
	var errs []error
	for _, e := range ents {
		if e.IsDir() {
			if err := os.Remove(filepath.Join(base, e.Name())); err != nil && !os.IsNotExist(err) {
				errs = append(errs, err)
			}
		}
	}
	if err := os.Remove(base); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CleanStale removes what runners that died without cleaning up left behind: nft tables named
// raftgram_jepsen_<pid> and cgroups named raftgram-jepsen-<pid> whose pid is no longer alive. Only names of
// this form are touched.
func CleanStale(ctx context.Context, log *slog.Logger) {
	if m, err := FindCgroup2(); err == nil {
		ents, _ := os.ReadDir(m)
		for _, e := range ents {
			if pid, ok := stalePID(e.Name(), "raftgram-jepsen-"); ok && !alive(pid) {
				if err := removeTree(filepath.Join(m, e.Name())); err == nil {
					log.Info("removed a stale cgroup of an earlier run", "cgroup", e.Name())
				}
			}
		}
	}
	out, err := exec.CommandContext(ctx, "nft", "list", "tables").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line) // "table inet raftgram_jepsen_123"
		if len(f) != 3 || f[0] != "table" {
			continue
		}
		if pid, ok := stalePID(f[2], "raftgram_jepsen_"); ok && !alive(pid) {
			if err := RunNft(ctx, fmt.Sprintf("delete table %s %s\n", f[1], f[2])); err == nil {
				log.Info("removed a stale nft table of an earlier run", "table", f[2])
			}
		}
	}
}

func stalePID(name, prefix string) (int, bool) {
	if !strings.HasPrefix(name, prefix) {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(name, prefix))
	return pid, err == nil && pid > 0
}

func alive(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}
