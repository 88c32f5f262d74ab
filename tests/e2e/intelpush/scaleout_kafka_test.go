package intelpush

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

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
// does on a real cluster. It returns the seed brokers as KAFKA_BROKERS takes them, and an admin
// client to read the consumer groups' committed offsets.
func startKafka(t *testing.T) (string, *kadm.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.SeedTopics(kafkaPartitions, kafkaTopic))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return strings.Join(c.ListenAddrs(), ","), kadm.NewClient(cl)
}

// kafkaOffsets is, summed over the topic's partitions, the offsets group committed and the end
// offsets (messages published).
func kafkaOffsets(t *testing.T, adm *kadm.Client, group string) (committed, end int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, kafkaTopic)
	require.NoError(t, err)
	require.NoError(t, ends.Error())
	ends.Each(func(o kadm.ListedOffset) { end += o.Offset })
	commits, err := adm.FetchOffsets(ctx, group)
	require.NoError(t, err)
	commits.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.Topic == kafkaTopic {
			committed += o.At
		}
	})
	return committed, end
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
// of three partitions, two writer processes (one consumer group each) apply their shares. Once
// the first history is applied and committed, more history arrives and writer 0 is SIGKILLed in
// the middle of its share of it; restarted, it resumes from its group's committed offsets: the
// lists end exactly as a single process leaves them, with no duplicate and no dead letter.
func TestKafkaScaleOutReachesTheExactEndStateThroughAWriterKill(t *testing.T) {
	harness.Binary(t) // built once per test process; not part of the figures below
	began := time.Now()
	brokers, adm := startKafka(t)
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
	const pipeline = "examples/scale-out-kafka-writer.yaml"
	writers := []*writer{newWriter(t, e, 0, 2, kafka), newWriter(t, e, 1, 2, kafka)}
	for _, wr := range writers {
		wr.start(t, pipeline)
	}
	e.eventuallyIOCs(w.iocs, "two Kafka writers")
	e.eventuallyRules(w.rules, "two Kafka writers")
	// Writer 0's consumer group commits what it applied (every commit_period, 5 s).
	e.proc.Eventually(waitLong, func() bool {
		committed, end := kafkaOffsets(t, adm, "harfanglab-writer-0")
		return end > 0 && committed == end
	}, "writer 0 never committed the first history")
	t.Logf("first history applied and committed in %v", time.Since(began).Round(time.Millisecond))

	// More history; SIGKILL writer 0 once it has written part of its share of it.
	before := writers[0].writes()
	w.round(120, 240)
	e.proc.Eventually(waitLong, func() bool { return writers[0].writes() >= before+10 }, "writer 0 made no progress")
	wrote := writers[0].writes() - before
	writers[0].proc.Kill()
	require.False(t, equal(e.iocs(), w.iocs), "the kill came after the end state was reached: it proves nothing")
	committed, _ := kafkaOffsets(t, adm, "harfanglab-writer-0")
	t.Logf("writer 0 killed after %v writes of the second history; its group had committed %d changes; %d IOCs of %d expected",
		wrote, committed, len(e.hl.IOCs(listName)), len(w.iocs))

	// More history while it is down; writer 1 follows it alone.
	w.round(240, 260)
	restarted := time.Now()
	writers[0].start(t, pipeline)
	e.eventuallyIOCs(w.iocs, "two Kafka writers, one killed and restarted")
	e.eventuallyRules(w.rules, "two Kafka writers, one killed and restarted")
	_, end := kafkaOffsets(t, adm, "harfanglab-writer-0")
	received := int64(metricSum(writers[0].addr, "input_received"))
	t.Logf("restarted writer 0 caught up in %v (%v in all); it read %d of the %d changes published and made %v writes",
		time.Since(restarted).Round(time.Millisecond), time.Since(began).Round(time.Millisecond), received, end, writers[0].writes())
	assert.GreaterOrEqual(t, received, end-committed, "the restarted writer re-reads everything after its committed offsets")
	assert.Less(t, received, end, "the restarted writer resumes from its committed offsets, not from the start")

	assert.Len(t, e.hl.IOCs(listName), len(w.iocs), "no duplicate IOC")
	assert.Len(t, e.hl.SigmaRules(listName), len(w.rules), "no duplicate rule")
	assert.Empty(t, e.deadLetters(), "reader dead letters")
	for i, wr := range writers {
		assert.Empty(t, wr.deadLetters(), "writer %d dead letters", i)
	}
}
