package tune

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"
)

// IOPropertiesName is the file `petrel iotune` writes in the data dir.
const IOPropertiesName = "io-config.yaml"

// IOProperties are the measured properties of the disk under a data dir,
// as written to io-config.yaml (see doc.go for an example).
type IOProperties struct {
	Version         int             `yaml:"version" json:"version"`
	MeasuredAt      time.Time       `yaml:"measured_at" json:"measured_at"`
	DataDir         string          `yaml:"data_dir" json:"data_dir"`
	Device          string          `yaml:"device,omitempty" json:"device,omitempty"`
	Filesystem      string          `yaml:"filesystem,omitempty" json:"filesystem,omitempty"`
	DirectIO        bool            `yaml:"direct_io" json:"direct_io"`
	DurationSeconds float64         `yaml:"duration_seconds" json:"duration_seconds"`
	SequentialWrite SequentialWrite `yaml:"sequential_write" json:"sequential_write"`
	SyncWrite       []SyncWrite     `yaml:"sync_write" json:"sync_write"`
	RandomRead      RandomRead      `yaml:"random_read" json:"random_read"`
}

// SequentialWrite is the bandwidth of large sequential writes, the final
// fdatasync included; DirectBytesPerSec is 0 without O_DIRECT.
type SequentialWrite struct {
	BlockBytes          int     `yaml:"block_bytes" json:"block_bytes"`
	BufferedBytesPerSec float64 `yaml:"buffered_bytes_per_sec" json:"buffered_bytes_per_sec"`
	DirectBytesPerSec   float64 `yaml:"direct_bytes_per_sec" json:"direct_bytes_per_sec"`
}

// SyncWrite is the latency of one write of SizeBytes followed by
// fdatasync, into an already written file (as the journal does).
type SyncWrite struct {
	SizeBytes int     `yaml:"size_bytes" json:"size_bytes"`
	Ops       int     `yaml:"ops" json:"ops"`
	P50Micros float64 `yaml:"p50_us" json:"p50_us"`
	P99Micros float64 `yaml:"p99_us" json:"p99_us"`
	MaxMicros float64 `yaml:"max_us" json:"max_us"`
}

// RandomRead is random-read IOPS of BlockBytes at each concurrency, and
// the smallest concurrency reaching 90% of the best (where the device
// saturates). Direct false means the reads may have come from the page
// cache (no O_DIRECT on this file system).
type RandomRead struct {
	BlockBytes            int         `yaml:"block_bytes" json:"block_bytes"`
	Direct                bool        `yaml:"direct" json:"direct"`
	Levels                []ReadLevel `yaml:"levels" json:"levels"`
	MaxIOPS               float64     `yaml:"max_iops" json:"max_iops"`
	SaturationConcurrency int         `yaml:"saturation_concurrency" json:"saturation_concurrency"`
}

// ReadLevel is the IOPS at one concurrency.
type ReadLevel struct {
	Concurrency int     `yaml:"concurrency" json:"concurrency"`
	IOPS        float64 `yaml:"iops" json:"iops"`
}

// ioPropertiesVersion is the format version written and understood.
const ioPropertiesVersion = 1

// ReadIOProperties reads an io-config.yaml; unknown keys and other
// versions are errors (ErrParse).
func ReadIOProperties(path string) (IOProperties, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return IOProperties{}, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var p IOProperties
	if err := dec.Decode(&p); err != nil {
		return IOProperties{}, fmt.Errorf("%s: %w: %v", path, ErrParse, err)
	}
	if p.Version != ioPropertiesVersion {
		return IOProperties{}, fmt.Errorf("%s: version %d, want %d: %w", path, p.Version, ioPropertiesVersion, ErrParse)
	}
	return p, nil
}

// AppendTo appends the YAML document, with a comment heading it.
func (p IOProperties) AppendTo(dst []byte) ([]byte, error) {
	b, err := yaml.Marshal(p)
	if err != nil {
		return dst, err
	}
	dst = append(dst, "# Measured by `petrel iotune`; the broker reads it. Rerun iotune after changing the disk.\n"...)
	return append(dst, b...), nil
}

// WriteIOProperties writes p to dir/io-config.yaml atomically
// (temporary file, fsync, rename, fsync of dir).
func WriteIOProperties(dir string, p IOProperties) (err error) {
	b, err := p.AppendTo(nil)
	if err != nil {
		return err
	}
	final := filepath.Join(dir, IOPropertiesName)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
