package handoff

import (
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	m := time.Minute
	for _, c := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{5 * m}, 5 * m},
		{[]time.Duration{9 * m, 1 * m, 4 * m}, 4 * m},
		{[]time.Duration{1 * m, 2 * m, 3 * m, 100 * m}, 150 * time.Second},
	} {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
