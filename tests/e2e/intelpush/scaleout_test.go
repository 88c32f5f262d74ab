package intelpush

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/harness"
)

// startRedis runs a real redis-server (Debian package; .ci/run installs it) on a free loopback
// port, without persistence, for the duration of the test.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server is not installed (apt-get install redis-server; .ci/run does it)")
	}
	addr := harness.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "redis://" + addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("redis-server did not start")
	return ""
}

// The Redis scale-out example: one reader publishes the changes to a Redis stream, two writer
// processes apply them, each its share of the values; together they reach exactly the lists a
// single process reaches, with the reader's cursor kept in Redis too.
func TestRedisScaleOutReachesTheExactEndState(t *testing.T) {
	redisURL := startRedis(t)
	e := newEnv(t)
	w := newWorld(e)
	w.round(0, 120)
	e.vars["REDIS_URL"] = redisURL
	e.vars["REDIS_STREAM"] = "harfanglab-changes-" + strconv.FormatInt(time.Now().UnixNano(), 36)

	reader := harness.Start(t, e.vars, "streams", "--no-api",
		"-o", harness.Pipeline("observability.yaml"),
		"-r", harness.Pipeline("examples/resources-redis.yaml"),
		harness.Pipeline("examples/scale-out-redis-reader.yaml"))
	e.proc = reader
	for i := 0; i < 2; i++ {
		vars := map[string]string{"WRITER_INDEX": fmt.Sprint(i), "WRITER_COUNT": "2", "STATE_DIR": t.TempDir(), "HTTP_ADDRESS": harness.FreeAddr(t)}
		for k, v := range e.vars {
			if _, set := vars[k]; !set {
				vars[k] = v
			}
		}
		harness.Start(t, vars, "streams", "--no-api",
			"-o", harness.Pipeline("observability.yaml"),
			harness.Pipeline("examples/scale-out-redis-writer.yaml"))
	}
	e.eventuallyIOCs(w.iocs, "two Redis writers")
	e.eventuallyRules(w.rules, "two Redis writers")

	// More history after the start: the writers follow it too.
	w.round(120, 160)
	e.eventuallyIOCs(w.iocs, "two Redis writers, second round")
	if values := len(e.hl.IOCs(listName)); values != len(w.iocs) {
		t.Fatalf("%d IOC rules in HarfangLab for %d expected values: duplicates", values, len(w.iocs))
	}
}
