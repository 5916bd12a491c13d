package cli

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func readAll(t *testing.T, format, input string) ([]*kgo.Record, error) {
	t.Helper()
	f, err := parseRecordFormat(format, produceVerbs)
	if err != nil {
		return nil, err
	}
	rr, err := newRecordReader(strings.NewReader(input), f, 64)
	if err != nil {
		return nil, err
	}
	var out []*kgo.Record
	for i := 0; i < 100; i++ {
		r, err := rr.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	t.Fatal("more than 100 records")
	return nil, nil
}

func TestRecordReader(t *testing.T) {
	cases := []struct {
		format, input string
		want          string // records as appendRecord prints them with "%p|%k|%v|%h|%t;"
	}{
		{`%v\n`, "a\nb\n", "0||a||0;0||b||0;"},
		{`%v\n`, "a\nlast", "0||a||0;0||last||0;"},
		{`%v\n`, "", ""},
		{`%v\n`, "\n\n", "0||||0;0||||0;"},
		{`%k %v\n`, "k1 v 1\nk2 v2\n", "0|k1|v 1||0;0|k2|v2||0;"},
		{`%k\t%v\n`, "k\tv\n", "0|k|v||0;"},
		{`%p:%k=%v;%h|%t\n`, "3:k=v;a=1,b=2|1700000000000\n", "3|k|v|a=1,b=2|1700000000000;"},
		{`[%v]`, "[x][y]", "0||x||0;0||y||0;"},
		{`%v%%\n`, "50%\n", "0||50||0;"},
		{`%v`, "all of it\nincluding newlines", "0||all of it\nincluding newlines||0;"},
	}
	out, _ := parseRecordFormat("%p|%k|%v|%h|%t;", consumeVerbs)
	for _, c := range cases {
		rs, err := readAll(t, c.format, c.input)
		if err != nil {
			t.Errorf("%q on %q: %v", c.format, c.input, err)
			continue
		}
		var got []byte
		for _, r := range rs {
			if r.Partition < 0 {
				r.Partition = 0
			}
			if r.Timestamp.IsZero() {
				r.Timestamp = time.UnixMilli(0)
			}
			got = appendRecord(got, out, r)
		}
		if string(got) != c.want {
			t.Errorf("%q on %q: got %q, want %q", c.format, c.input, got, c.want)
		}
	}
}

func TestRecordReaderErrors(t *testing.T) {
	for _, c := range []struct{ format, input, want string }{
		{`%k %v\n`, "nospace\nk v\n", "line ends before"},
		{`%k %v\n`, "k", "input ends inside the record"},
		{`%v\n`, strings.Repeat("x", 100) + "\n", "field too long"},
		{`%t %v\n`, "soon v\n", "want Unix milliseconds"},
		{`%p %v\n`, "-1 v\n", "partition"},
		{`%h %v\n`, "novalue v\n", "want key=value"},
		{`[%v]`, "(x)", "where the format wants"},
		{`%k%v\n`, "", "no text between them"},
		{`%o\n`, "", "unknown verb %o"},
		{`%v\q`, "", "unknown escape"},
		{`%v%`, "", "lone"},
	} {
		_, err := readAll(t, c.format, c.input)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q on %q: got %v, want an error with %q", c.format, c.input, err, c.want)
		}
	}
}

func TestAppendRecord(t *testing.T) {
	f, err := parseRecordFormat(`%T/%p@%o e%e t%t %k=%v [%h]\n`, consumeVerbs)
	if err != nil {
		t.Fatal(err)
	}
	r := &kgo.Record{Topic: "t", Partition: 2, Offset: 41, LeaderEpoch: 3, Timestamp: time.UnixMilli(1234),
		Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: "a", Value: []byte("1")}}}
	if got, want := string(appendRecord(nil, f, r)), "t/2@41 e3 t1234 k=v [a=1]\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := string(appendJSONRecord(nil, r)); got != `{"topic":"t","partition":2,"offset":41,"leader_epoch":3,"timestamp":1234,"key":"k","value":"v","headers":[{"key":"a","value":"1"}]}`+"\n" {
		t.Errorf("json: %s", got)
	}
	r.Key, r.Headers = nil, nil
	if got := string(appendJSONRecord(nil, r)); !strings.Contains(got, `"key":null`) || strings.Contains(got, "headers") {
		t.Errorf("json of a null key: %s", got)
	}
}

func TestParseOffset(t *testing.T) {
	for _, c := range []struct {
		in   string
		want offsetSpec
		ok   bool
	}{
		{"start", offsetSpec{kind: offsetStart}, true},
		{"oldest", offsetSpec{kind: offsetStart}, true},
		{"END", offsetSpec{kind: offsetEnd}, true},
		{"42", offsetSpec{kind: offsetExact, n: 42}, true},
		{"@1700000000000", offsetSpec{kind: offsetTime, n: 1700000000000}, true},
		{"@2023-11-14T22:13:20Z", offsetSpec{kind: offsetTime, n: 1700000000000}, true},
		{"-1", offsetSpec{}, false},
		{"@yesterday", offsetSpec{}, false},
		{"middle", offsetSpec{}, false},
	} {
		got, err := parseOffset(c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("parseOffset(%q) = %+v, %v", c.in, got, err)
		}
	}
	if ps, err := parsePartitions([]string{"0,2", "5"}); err != nil || len(ps) != 3 || ps[2] != 5 {
		t.Errorf("parsePartitions: %v %v", ps, err)
	}
	if _, err := parsePartitions([]string{"x"}); err == nil {
		t.Error("parsePartitions accepted x")
	}
}
