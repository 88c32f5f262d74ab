package intelpush

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/opencti-harfanglab/opencti-harfanglab/internal/sim/faults"
	"github.com/opencti-harfanglab/opencti-harfanglab/tests/e2e/harness"
)

const (
	kafkaTopic      = "harfanglab-changes"
	kafkaPartitions = 3
)

// startKafka runs franz-go's kfake in the test process: three brokers speaking the real Kafka
// protocol (produce, fetch, consumer groups, offset commits) on loopback, with the change topic
// created with several partitions so that per-indicator ordering rests on the message key, as it
// does on a real cluster. It returns the seed brokers as KAFKA_BROKERS takes them.
func startKafka(t *testing.T) (*kfake.Cluster, string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.SeedTopics(kafkaPartitions, kafkaTopic))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c, strings.Join(c.ListenAddrs(), ",")
}

// writer is one process of the writer stage, with what survives its restarts (index, state
// directory, HTTP address).
type writer struct {
	vars map[string]string
	addr string
	proc *harness.Proc
}

// newWriter prepares writer index of count on the deployment's environment plus extra.
func newWriter(t *testing.T, e *env, index, count int, extra map[string]string) *writer {
	w := &writer{addr: harness.FreeAddr(t), vars: map[string]string{}}
	for k, v := range e.vars {
		w.vars[k] = v
	}
	for k, v := range extra {
		w.vars[k] = v
	}
	w.vars["WRITER_INDEX"] = fmt.Sprint(index)
	w.vars["WRITER_COUNT"] = fmt.Sprint(count)
	w.vars["STATE_DIR"] = t.TempDir()
	w.vars["HTTP_ADDRESS"] = w.addr
	return w
}

// start runs the writer on pipeline (under pipelines/) and waits until it is ready.
func (w *writer) start(t *testing.T, pipeline string) {
	t.Helper()
	w.proc = harness.Start(t, w.vars, "streams", "--no-api",
		"-o", harness.Pipeline("observability.yaml"), harness.Pipeline(pipeline))
	require.NoError(t, w.proc.WaitReady(w.addr, waitLong))
}

// writes is the number of HarfangLab writes of the writer's current process.
func (w *writer) writes() float64 { return metricSum(w.addr, "harfanglab_intel_writes_total") }

// deadLetters is the content of the writer's dead-letter file ("" when there is none).
func (w *writer) deadLetters() string {
	b, _ := os.ReadFile(filepath.Join(w.vars["STATE_DIR"], "dead-letter", "harfanglab-writer-"+w.vars["WRITER_INDEX"]+".jsonl"))
	return string(b)
}

// The Kafka scale-out example on the Kafka protocol: one reader publishes the changes to a topic
// of three partitions, two writer processes (one consumer group each) apply their shares. Writer
// 0 is SIGKILLed in the middle of its share, more history arrives while it is down, and once
// restarted it resumes from its group's committed offset: the lists end exactly as a single
// process leaves them, with no duplicate and no dead letter.
func TestKafkaScaleOutReachesTheExactEndStateThroughAWriterKill(t *testing.T) {
	harness.Binary(t) // built once per test process; not part of the figures below
	began := time.Now()
	_, brokers := startKafka(t)
	e := newEnv(t)
	// Slow HarfangLab down (40 ms, 4 requests at a time) so that the kill lands mid-share.
	e.hl.Faults().Set(faults.Config{Latency: 40 * time.Millisecond, MaxConcurrent: 4})
	w := newWorld(e)
	w.round(0, 120)
	kafka := map[string]string{"KAFKA_BROKERS": brokers, "KAFKA_TOPIC": kafkaTopic, "KAFKA_SESSION_TIMEOUT": "6s"}
	for k, v := range kafka {
		e.vars[k] = v
	}
	e.addr = harness.FreeAddr(t)
	e.vars["HTTP_ADDRESS"] = e.addr
	e.proc = harness.Start(t, e.vars, "streams", "--no-api",
		"-o", harness.Pipeline("observability.yaml"),
		"-r", harness.Pipeline("resources.yaml"),
		harness.Pipeline("examples/scale-out-kafka-reader.yaml"))
	require.NoError(t, e.proc.WaitReady(e.addr, waitLong))
	t.Logf("reader ready in %v", time.Since(began).Round(time.Millisecond))
	const pipeline = "examples/scale-out-kafka-writer.yaml"
	writers := []*writer{newWriter(t, e, 0, 2, kafka), newWriter(t, e, 1, 2, kafka)}
	for _, wr := range writers {
		wr.start(t, pipeline)
	}

	t.Logf("writers ready in %v", time.Since(began).Round(time.Millisecond))

	// SIGKILL writer 0 once it has written part of its share, with the rest still to do.
	e.proc.Eventually(waitLong, func() bool { return writers[0].writes() >= 10 }, "writer 0 made no progress")
	writers[0].proc.Kill()
	killedAfter := e.hl.WriteCount()
	require.False(t, equal(e.iocs(), w.iocs), "the kill came after the end state was reached: it proves nothing")
	t.Logf("writer 0 killed after %d writes in all, %d IOCs of %d expected", killedAfter, len(e.hl.IOCs(listName)), len(w.iocs))

	// History goes on while it is down; writer 1 follows it alone.
	w.round(120, 160)
	restarted := time.Now()
	writers[0].start(t, pipeline)
	e.eventuallyIOCs(w.iocs, "two Kafka writers, one killed and restarted")
	e.eventuallyRules(w.rules, "two Kafka writers, one killed and restarted")
	t.Logf("restarted writer 0 caught up in %v (%v in all)", time.Since(restarted).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	assert.Positive(t, writers[0].writes(), "the restarted writer had its share left to write")

	assert.Len(t, e.hl.IOCs(listName), len(w.iocs), "no duplicate IOC")
	assert.Len(t, e.hl.SigmaRules(listName), len(w.rules), "no duplicate rule")
	assert.Empty(t, e.deadLetters(), "reader dead letters")
	for i, wr := range writers {
		assert.Empty(t, wr.deadLetters(), "writer %d dead letters", i)
	}
}
