package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Record format strings, as produce reads and consume prints them:
//
//	%k key       %v value      %h headers (k1=v1,k2=v2)   %t timestamp (Unix ms)
//	%p partition %o offset     %e leader epoch            %T topic      %% a percent sign
//	\n \r \t \\  the escapes
//
// produce reads %k %v %h %t %p; every verb but the last must be followed by
// literal text, the delimiter that ends the field.

const (
	produceVerbs = "kvhtp"
	consumeVerbs = "kvhtpoeT"
)

// piece is a literal (verb 0) or one verb.
type piece struct {
	lit  string
	verb byte
}

// parseRecordFormat compiles a format string, allowing the given verbs.
func parseRecordFormat(s, verbs string) ([]piece, error) {
	var out []piece
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, piece{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c != '%' && c != '\\') || i+1 == len(s) {
			if c == '%' || c == '\\' {
				return nil, fmt.Errorf("format %q: ends with a lone %q", s, c)
			}
			lit.WriteByte(c)
			continue
		}
		i++
		n := s[i]
		if c == '\\' {
			esc := map[byte]byte{'n': '\n', 'r': '\r', 't': '\t', '\\': '\\'}[n]
			if esc == 0 {
				return nil, fmt.Errorf("format %q: unknown escape \\%c (want \\n, \\r, \\t or \\\\)", s, n)
			}
			lit.WriteByte(esc)
			continue
		}
		if n == '%' {
			lit.WriteByte('%')
			continue
		}
		if !strings.ContainsRune(verbs, rune(n)) {
			return nil, fmt.Errorf("format %q: unknown verb %%%c (want one of %%%s)", s, n, strings.Join(strings.Split(verbs, ""), " %"))
		}
		flush()
		out = append(out, piece{verb: n})
	}
	flush()
	return out, nil
}

// formatHeaders renders headers as k1=v1,k2=v2.
func formatHeaders(hs []kgo.RecordHeader) string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = h.Key + "=" + string(h.Value)
	}
	return strings.Join(parts, ",")
}

// parseHeaders reads k1=v1,k2=v2 (empty: none).
func parseHeaders(s string) ([]kgo.RecordHeader, error) {
	var hs []kgo.RecordHeader
	for _, kv := range splitList(s) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("header %q: want key=value", kv)
		}
		hs = append(hs, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return hs, nil
}

// appendRecord prints r by the compiled format.
func appendRecord(dst []byte, f []piece, r *kgo.Record) []byte {
	for _, p := range f {
		switch p.verb {
		case 0:
			dst = append(dst, p.lit...)
		case 'k':
			dst = append(dst, r.Key...)
		case 'v':
			dst = append(dst, r.Value...)
		case 'h':
			dst = append(dst, formatHeaders(r.Headers)...)
		case 't':
			dst = strconv.AppendInt(dst, r.Timestamp.UnixMilli(), 10)
		case 'p':
			dst = strconv.AppendInt(dst, int64(r.Partition), 10)
		case 'o':
			dst = strconv.AppendInt(dst, r.Offset, 10)
		case 'e':
			dst = strconv.AppendInt(dst, int64(r.LeaderEpoch), 10)
		case 'T':
			dst = append(dst, r.Topic...)
		}
	}
	return dst
}

// errFieldTooLong is a produce input field over the size limit.
var errFieldTooLong = errors.New("field too long")

// recordReader reads records from text by a compiled format.
type recordReader struct {
	r        *bufio.Reader
	f        []piece
	maxBytes int  // per field
	n        int  // records read, for error messages
	lines    bool // the format ends with a newline: no field but the last may span lines
}

func newRecordReader(r io.Reader, f []piece, maxBytes int) (*recordReader, error) {
	for i := 1; i < len(f); i++ {
		if f[i].verb != 0 && f[i-1].verb != 0 {
			return nil, fmt.Errorf("format: %%%c follows %%%c with no text between them to end the field", f[i].verb, f[i-1].verb)
		}
	}
	if len(f) == 0 {
		return nil, fmt.Errorf("format: empty")
	}
	lines := f[len(f)-1].verb == 0 && strings.HasSuffix(f[len(f)-1].lit, "\n")
	return &recordReader{r: bufio.NewReaderSize(r, 64<<10), f: f, maxBytes: maxBytes, lines: lines}, nil
}

// next reads one record; io.EOF at a clean end of input. A last record
// missing its final delimiter (a last line with no newline) is accepted.
func (rr *recordReader) next() (*kgo.Record, error) {
	if _, err := rr.r.Peek(1); err == io.EOF {
		return nil, io.EOF
	}
	rr.n++
	rec := &kgo.Record{Partition: -1}
	for i := 0; i < len(rr.f); i++ {
		p := rr.f[i]
		if p.verb == 0 {
			if err := rr.expect(p.lit, i == len(rr.f)-1); err != nil {
				return nil, err
			}
			continue
		}
		delim := ""
		if i+1 < len(rr.f) {
			delim = rr.f[i+1].lit
			i++ // the delimiter is consumed with the field
		}
		field, last, err := rr.readField(delim)
		if err != nil {
			return nil, err
		}
		if last && i != len(rr.f)-1 {
			return nil, fmt.Errorf("record %d: input ends inside the record (format wants %q next)", rr.n, rr.f[i+1:])
		}
		if err := rr.set(rec, p.verb, field); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

// expect consumes lit; at the end of input a final literal may be missing.
func (rr *recordReader) expect(lit string, final bool) error {
	for j := 0; j < len(lit); j++ {
		c, err := rr.r.ReadByte()
		if err == io.EOF && final && j == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("record %d: input ends where the format wants %q", rr.n, lit)
		}
		if c != lit[j] {
			return fmt.Errorf("record %d: read %q where the format wants %q", rr.n, c, lit[j:])
		}
	}
	return nil
}

// readField reads up to delim (consumed, not returned), or to the end of
// input when delim is "". last reports that input ended first.
func (rr *recordReader) readField(delim string) (field []byte, last bool, err error) {
	var buf []byte
	for {
		c, err := rr.r.ReadByte()
		if err == io.EOF {
			return buf, true, nil
		}
		if err != nil {
			return nil, false, err
		}
		buf = append(buf, c)
		if c == '\n' && rr.lines && !strings.Contains(delim, "\n") {
			return nil, false, fmt.Errorf("record %d: the line ends before %q, which the format wants after a field", rr.n, delim)
		}
		if delim != "" && bytes.HasSuffix(buf, []byte(delim)) {
			return buf[:len(buf)-len(delim)], false, nil
		}
		if len(buf) > rr.maxBytes+len(delim) {
			return nil, false, fmt.Errorf("record %d: %w: over %d bytes (raise --max-record-bytes)", rr.n, errFieldTooLong, rr.maxBytes)
		}
	}
}

func (rr *recordReader) set(rec *kgo.Record, verb byte, field []byte) error {
	switch verb {
	case 'k':
		rec.Key = field
	case 'v':
		rec.Value = field
	case 'h':
		hs, err := parseHeaders(string(field))
		if err != nil {
			return fmt.Errorf("record %d: %w", rr.n, err)
		}
		rec.Headers = append(rec.Headers, hs...)
	case 't':
		ms, err := strconv.ParseInt(string(field), 10, 64)
		if err != nil {
			return fmt.Errorf("record %d: timestamp %q: want Unix milliseconds", rr.n, field)
		}
		rec.Timestamp = time.UnixMilli(ms)
	case 'p':
		p, err := strconv.ParseInt(string(field), 10, 32)
		if err != nil || p < 0 {
			return fmt.Errorf("record %d: partition %q: want a non-negative number", rr.n, field)
		}
		rec.Partition = int32(p)
	}
	return nil
}
