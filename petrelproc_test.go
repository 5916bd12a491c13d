package petrel_test

// The `petrel serve` process of the crash test: built once per test run,
// started on free loopback ports, waited for through the admin API's
// /v1/status/ready, killed or terminated by its own PID only.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// buildPetrel builds ./cmd/petrel once per test binary run, with -race
// when the tests run under it.
func buildPetrel(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "petrel-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "petrel")
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		args := []string{"build", "-o", buildBin}
		if raceBuild() { // reuse the race-compiled packages, and catch races in the broker
			args = append(args, "-race")
		}
		out, err := exec.CommandContext(ctx, goTool, append(args, "./cmd/petrel")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/petrel: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	t.Cleanup(func() { _ = os.RemoveAll(filepath.Dir(buildBin)) })
	return buildBin
}

// raceBuild reports whether this test binary was built with -race.
func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// petrelProc is one `petrel serve` process this test started.
type petrelProc struct {
	cmd     *exec.Cmd
	kafka   string
	admin   string
	logPath string
	exited  chan struct{} // closed once Wait returned
	waitErr error
}

// startPetrel starts the binary on dataDir with free loopback ports and
// waits until it is ready. The process is killed (by PID) at test end if
// still running.
func startPetrel(t *testing.T, bin, dataDir string, round int) *petrelProc {
	t.Helper()
	for attempt := 0; ; attempt++ {
		p, err := tryStartPetrel(t, bin, dataDir, round, attempt)
		if err == nil {
			return p
		}
		if attempt == 2 {
			t.Fatalf("start petrel: %v", err)
		}
		t.Logf("start petrel (attempt %d): %v; retrying on other ports", attempt, err)
	}
}

func tryStartPetrel(t *testing.T, bin, dataDir string, round, attempt int) (*petrelProc, error) {
	logDir := t.TempDir()
	p := &petrelProc{kafka: freeAddr(t), admin: freeAddr(t), exited: make(chan struct{}),
		logPath: filepath.Join(logDir, fmt.Sprintf("petrel-%d-%d.log", round, attempt))}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(bin, "serve", "--data-dir", dataDir, "--kafka-addr", p.kafka,
		"--admin-addr", p.admin, "--rpc-addr", freeAddr(t), "--shards", "2", "--memory", "536870912",
		"--log-level", "info")
	p.cmd.Dir = logDir // no petrel.yaml there
	p.cmd.Env = childEnv()
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	go func() { p.waitErr = p.cmd.Wait(); logFile.Close(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill() // this PID only
			<-p.exited
		}
	})
	ready := "http://" + p.admin + "/v1/status/ready"
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("exited before ready (%v):\n%s", p.waitErr, p.logTail())
		default:
		}
		if resp, err := hc.Get(ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		poll := time.NewTimer(20 * time.Millisecond)
		select {
		case <-poll.C:
		case <-p.exited:
			poll.Stop()
		}
	}
	return nil, fmt.Errorf("not ready in 60 s:\n%s", p.logTail())
}

// kill sends SIGKILL to the process and waits for it to be gone.
func (p *petrelProc) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("broker exited on its own before the kill (%v):\n%s", p.waitErr, p.logTail())
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", p.cmd.Process.Pid, err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("pid %d still running 30 s after SIGKILL", p.cmd.Process.Pid)
	}
	p.scanLog(t)
}

// terminate sends SIGTERM and expects a clean exit (status 0) within 30 s.
func (p *petrelProc) terminate(t *testing.T) {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %d: %v", p.cmd.Process.Pid, err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("pid %d still running 30 s after SIGTERM:\n%s", p.cmd.Process.Pid, p.logTail())
	}
	if p.waitErr != nil {
		t.Fatalf("unclean exit after SIGTERM: %v\n%s", p.waitErr, p.logTail())
	}
	t.Logf("SIGTERM: clean exit in %v", time.Since(start).Round(time.Millisecond))
	p.scanLog(t)
}

// scanLog fails on a panic, fatal error or race report in the broker's log.
func (p *petrelProc) scanLog(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"panic:", "fatal error:", "DATA RACE"} {
		if strings.Contains(string(b), bad) {
			t.Fatalf("broker log holds %q:\n%s", bad, p.logTail())
		}
	}
}

// logTail is the end of the broker's log, for failure messages.
func (p *petrelProc) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 8<<10 {
		b = b[len(b)-8<<10:]
	}
	return string(b)
}

// childEnv is the test's environment without PETREL_* variables: the
// broker refuses settings it does not know (PETREL_CRASH_ROUNDS).
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PETREL_") {
			env = append(env, kv)
		}
	}
	return env
}

// newClient is a franz-go client of addr; the caller closes it.
func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > 1000 {
		t.Fatalf("%s=%q: want 1..1000", name, s)
	}
	return v
}
