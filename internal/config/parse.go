package config

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"
)

// parse turns text into the Go value of kind: string, int64, bool,
// time.Duration, int64 (bytes), []string or string (host:port).
func parse(k Kind, text string) (any, error) {
	switch k {
	case KindInt:
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: want an integer", ErrInvalid)
		}
		return n, nil
	case KindBool:
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%w: want true or false", ErrInvalid)
		}
		return b, nil
	case KindDuration:
		d, err := time.ParseDuration(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%w: want a duration like 500ms, 30s or 5m", ErrInvalid)
		}
		return d, nil
	case KindBytes:
		return ParseBytes(text)
	case KindList:
		var out []string
		for _, s := range strings.Split(text, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	case KindHostPort:
		return text, checkHostPort(text)
	}
	return text, nil
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%w: want host:port, like 0.0.0.0:9092 or [::1]:9092", ErrInvalid)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("%w: bad host %q", ErrInvalid, host)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%w: port %q is not a number in [0, 65535]", ErrInvalid, port)
	}
	return nil
}

var units = []struct {
	suffix string
	mult   int64
}{
	// Longest suffixes first so "GiB" is not read as "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// ParseBytes parses a size: a plain number of bytes, or a number
// (decimals allowed) with a unit, case-insensitive. KiB, MiB, GiB, TiB and
// the short K, M, G, T (as rpk and Seastar read --memory 1G) are powers of
// 1024; KB, MB, GB, TB are powers of 1000.
func ParseBytes(text string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(text))
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	bad := fmt.Errorf("%w: want a size like 1073741824, 512MiB or 1GiB", ErrInvalid)
	if s == "" || strings.ContainsAny(s, "+-eE_xXpP") {
		return 0, bad
	}
	if mult == 1 || !strings.Contains(s, ".") {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, bad
		}
		if n > math.MaxInt64/mult {
			return 0, fmt.Errorf("%w: size overflows 64 bits", ErrOutOfRange)
		}
		return n * mult, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return 0, bad
	}
	v := f * float64(mult)
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("%w: size overflows 64 bits", ErrOutOfRange)
	}
	return int64(v), nil
}

// FormatBytes renders n in the largest binary unit that divides it.
func FormatBytes(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// format renders a parsed value the way parse reads it back.
func format(k Kind, v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case time.Duration:
		return x.String()
	case []string:
		return strings.Join(x, ",")
	case int64:
		if k == KindBytes {
			return FormatBytes(x)
		}
		return strconv.FormatInt(x, 10)
	}
	return fmt.Sprint(v)
}
