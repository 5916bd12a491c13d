package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Options configure a node's metrics.
type Options struct {
	// PartitionSeries enables the series with a partition label (per
	// partition offsets and consumer lag per partition). Off, lag is
	// summed per group and topic: a node with 100k partitions stays
	// scrapeable.
	PartitionSeries bool
}

// Metrics is one node's metrics: its own registry (no global one), the
// counters the data path bumps and the collector that reads the node's
// probe at scrape time. Any goroutine.
type Metrics struct {
	opts Options
	reg  *prometheus.Registry

	requests   *prometheus.CounterVec
	failures   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	bytesIn    *prometheus.CounterVec
	bytesOut   *prometheus.CounterVec
	fsync      *prometheus.HistogramVec
	roundBytes *prometheus.HistogramVec

	// apiNames caches kmsg.NameForKey per key: the label of every
	// request, looked up without allocating.
	apiNames sync.Map // int16 → apiSeries
	// topics are the topic labels of the byte counters, pruned at
	// scrape time when their topic is gone.
	topics sync.Map // string → struct{}

	probe *probeCollector
}

type apiSeries struct {
	requests, failures prometheus.Counter
	latency            prometheus.Observer
}

// New returns a node's metrics, registered in a fresh registry together
// with the Go runtime and process collectors.
func New(opts Options) *Metrics {
	m := &Metrics{opts: opts, reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "petrel_kafka_requests_total", Help: "Kafka requests handled, by API.",
	}, []string{"api"})
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "petrel_kafka_request_errors_total", Help: "Kafka requests whose handler failed (the connection was closed), by API.",
	}, []string{"api"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "petrel_kafka_request_latency_seconds",
		Help: "Time from a request's dispatch to its response (Produce with acks=all: until committed), by API.",
		// 50µs .. ~26s, doubling.
		Buckets: prometheus.ExponentialBuckets(50e-6, 2, 20),
	}, []string{"api"})
	m.bytesIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "petrel_kafka_bytes_in_total", Help: "Record batch bytes received in Produce requests, by topic.",
	}, []string{"topic"})
	m.bytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "petrel_kafka_bytes_out_total", Help: "Record batch bytes sent in Fetch responses, by topic.",
	}, []string{"topic"})
	m.fsync = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "petrel_storage_fsync_latency_seconds",
		Help: "Latency of fsync/fdatasync calls, by file kind (journal: one per sync round; segment: direct writes and background flushes).",
		// 25µs .. ~3.3s, doubling.
		Buckets: prometheus.ExponentialBuckets(25e-6, 2, 18),
	}, []string{"file"})
	m.roundBytes = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "petrel_storage_round_bytes",
		Help: "Bytes written to a file since its previous sync and made durable by one fdatasync, by file kind: for the journal, the group-commit batch of a sync round.",
		// 512 B .. 128 MiB, times four.
		Buckets: prometheus.ExponentialBuckets(512, 4, 10),
	}, []string{"file"})
	m.probe = newProbeCollector(m, opts)
	m.reg.MustRegister(m.requests, m.failures, m.latency, m.bytesIn, m.bytesOut, m.fsync, m.roundBytes, m.probe,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the node's registry (tests gather from it directly).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Options returns the options m was built with.
func (m *Metrics) Options() Options { return m.opts }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// SetProbe sets the function the collector calls at each scrape for the
// node's state (connections, memory budgets, partitions, consumer lag).
func (m *Metrics) SetProbe(fn ProbeFunc) { m.probe.set(fn) }

// Request implements kafka.Observer (the name keeps internal/metrics free
// of internal/kafka).
func (m *Metrics) Request(key int16, took time.Duration, failed bool) {
	s := m.api(key)
	s.requests.Inc()
	if failed {
		s.failures.Inc()
	}
	s.latency.Observe(took.Seconds())
}

func (m *Metrics) api(key int16) apiSeries {
	if s, ok := m.apiNames.Load(key); ok {
		return s.(apiSeries)
	}
	name := kmsg.NameForKey(key)
	if name == "Unknown" {
		name = "key_" + strconv.Itoa(int(key))
	}
	s := apiSeries{
		requests: m.requests.WithLabelValues(name),
		failures: m.failures.WithLabelValues(name),
		latency:  m.latency.WithLabelValues(name),
	}
	m.apiNames.Store(key, s)
	return s
}

// TopicBytes counts record-batch bytes in (Produce) or out (Fetch) of a
// topic; topic must be a name (the node resolves topic IDs).
func (m *Metrics) TopicBytes(in bool, topic string, n int) {
	if _, ok := m.topics.Load(topic); !ok {
		m.topics.Store(topic, struct{}{})
	}
	if in {
		m.bytesIn.WithLabelValues(topic).Add(float64(n))
	} else {
		m.bytesOut.WithLabelValues(topic).Add(float64(n))
	}
}

// pruneTopics drops the byte counters of topics that no longer exist
// (called at scrape time), so that a stream of created and deleted topics
// does not grow the series without bound.
func (m *Metrics) pruneTopics(exists func(string) bool) {
	m.topics.Range(func(k, _ any) bool {
		if t := k.(string); !exists(t) {
			m.topics.Delete(t)
			m.bytesIn.DeleteLabelValues(t)
			m.bytesOut.DeleteLabelValues(t)
		}
		return true
	})
}
