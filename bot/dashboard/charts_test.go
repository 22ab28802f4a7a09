package dashboard

import (
	"math"
	"strconv"
	"testing"
)

// checkChartGeometry holds for every chart: bars inside the viewBox, finite
// numbers with at most one decimal.
func checkChartGeometry(t *testing.T, c barChart) {
	t.Helper()
	oneDecimal := func(x float64) bool {
		return !math.IsNaN(x) && !math.IsInf(x, 0) && math.Abs(x*10-math.Round(x*10)) < 1e-6
	}
	for i, b := range c.Bars {
		for _, x := range []float64{b.X, b.Y, b.W, b.H, b.TX, b.TY} {
			if !oneDecimal(x) {
				t.Errorf("bar %d: %v", i, x)
			}
		}
		if b.X < 0 || b.Y < 0 || b.W < 0 || b.H < 0 || b.X+b.W > c.W+0.05 || b.Y+b.H > c.H+0.05 {
			t.Errorf("bar %d outside the %vx%v chart: %+v", i, c.W, c.H, b)
		}
		if b.Value < 0 || b.Value > c.Max {
			t.Errorf("bar %d value %d, max %d", i, b.Value, c.Max)
		}
		if b.Class != "bar" {
			t.Errorf("bar %d class %q", i, b.Class)
		}
	}
	for i, l := range c.Labels {
		if l.X < 0 || l.X > c.W || l.Y < 0 || l.Y > c.H || !oneDecimal(l.X) {
			t.Errorf("label %d outside: %+v", i, l)
		}
	}
}

func TestColumnChart(t *testing.T) {
	days := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strconv.Itoa(i + 1)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		values  []int64
		labels  []string
		bars    int
		empty   bool
		heights []float64 // when given
		texts   bool      // values written above the bars
		maxLab  int
	}{
		{name: "no data", values: nil, bars: 0, empty: true},
		{name: "zeros", values: []int64{0, 0, 0}, labels: days(3), bars: 3, empty: true, heights: []float64{0, 0, 0}, texts: true, maxLab: 3},
		{name: "one value", values: []int64{7}, labels: days(1), bars: 1, heights: []float64{colPlot}, texts: true, maxLab: 1},
		{name: "a week", values: []int64{1, 2, 4, 0, 8, 2, 1}, labels: days(7), bars: 7, heights: []float64{15, 30, 60, 0, 120, 30, 15}, texts: true, maxLab: 7},
		{name: "huge values", values: []int64{math.MaxInt64, 1, math.MaxInt64 / 2}, labels: days(3), bars: 3, heights: []float64{colPlot, 1, 60}, texts: true, maxLab: 3},
		{name: "negative counts as zero", values: []int64{-5, 10}, labels: days(2), bars: 2, heights: []float64{0, colPlot}, texts: true, maxLab: 2},
		{name: "a month", values: make([]int64, 30), labels: days(30), bars: 30, empty: true, maxLab: colMaxLab},
		{name: "many bars", values: func() []int64 {
			v := make([]int64, 1000)
			for i := range v {
				v[i] = int64(i)
			}
			return v
		}(), labels: days(1000), bars: 1000, maxLab: colMaxLab},
		{name: "fewer labels than values", values: []int64{1, 2, 3}, labels: days(1), bars: 3, texts: true, maxLab: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := columnChart(tc.values, tc.labels, nil)
			checkChartGeometry(t, c)
			if len(c.Bars) != tc.bars || c.Empty() != tc.empty {
				t.Fatalf("%d bars, empty %v", len(c.Bars), c.Empty())
			}
			for i, h := range tc.heights {
				if c.Bars[i].H != h {
					t.Errorf("bar %d height %v, want %v", i, c.Bars[i].H, h)
				}
			}
			for i, b := range c.Bars {
				if b.Y+b.H != c.Axis { // standing on the axis
					t.Errorf("bar %d floats: y %v + h %v", i, b.Y, b.H)
				}
				if i > 0 && b.X <= c.Bars[i-1].X {
					t.Errorf("bar %d is not right of bar %d", i, i-1)
				}
				if (b.Text != "") != tc.texts {
					t.Errorf("bar %d text %q", i, b.Text)
				}
				if b.Tip == "" || b.Group != i {
					t.Errorf("bar %d: tip %q group %d", i, b.Tip, b.Group)
				}
			}
			if len(c.Labels) > tc.maxLab || tc.bars > 0 && len(tc.labels) > 0 && len(c.Labels) == 0 {
				t.Errorf("%d labels", len(c.Labels))
			}
		})
	}
	// a formatter writes the values
	c := columnChart([]int64{1234}, []string{"01/12"}, func(n int64) string { return "n=" + strconv.FormatInt(n, 10) })
	if c.Bars[0].Text != "n=1234" || c.Bars[0].Tip != "01/12: n=1234" {
		t.Errorf("formatted: %+v", c.Bars[0])
	}
}

func TestRowChart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		labels []string
		series [][]int64
		bars   int
		widths []float64 // when given, in bar order
	}{
		{name: "no steps", labels: nil, series: [][]int64{nil}, bars: 0},
		{name: "zeros", labels: []string{"a", "b"}, series: [][]int64{{0, 0}}, bars: 2, widths: []float64{0, 0}},
		{name: "one step", labels: []string{"a"}, series: [][]int64{{5}}, bars: 1, widths: []float64{chartWidth - valueW}},
		{name: "a funnel", labels: []string{"a", "b", "c"}, series: [][]int64{{200, 100, 50}}, bars: 3, widths: []float64{264, 132, 66}},
		{name: "two versions", labels: []string{"a", "b"}, series: [][]int64{{100, 50}, {200, 0}}, bars: 4, widths: []float64{132, 264, 66, 0}},
		{name: "a short series", labels: []string{"a", "b", "c"}, series: [][]int64{{4, 2, 1}, {4}}, bars: 6, widths: []float64{264, 264, 132, 0, 66, 0}},
		{name: "huge values", labels: []string{"a", "b"}, series: [][]int64{{math.MaxInt64, 1}}, bars: 2, widths: []float64{264, 1}},
		{name: "no series", labels: []string{"a"}, series: nil, bars: 0},
		{name: "many steps", labels: make([]string, 500), series: [][]int64{make([]int64, 500), make([]int64, 500)}, bars: 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rowChart(tc.labels, tc.series, nil)
			checkChartGeometry(t, c)
			if len(c.Bars) != tc.bars || len(c.Labels) != len(tc.labels) {
				t.Fatalf("%d bars, %d labels", len(c.Bars), len(c.Labels))
			}
			for i, w := range tc.widths {
				if c.Bars[i].W != w {
					t.Errorf("bar %d width %v, want %v", i, c.Bars[i].W, w)
				}
			}
			ns := max(len(tc.series), 1)
			for i, b := range c.Bars {
				if b.Group != i/ns || b.Series != i%ns {
					t.Errorf("bar %d is group %d series %d", i, b.Group, b.Series)
				}
				if i > 0 && b.Y <= c.Bars[i-1].Y {
					t.Errorf("bar %d is not below bar %d", i, i-1)
				}
				if b.Y < c.Labels[b.Group].Y {
					t.Errorf("bar %d above its label", i)
				}
				if b.Text != strconv.FormatInt(b.Value, 10) || b.TX < b.X+b.W || b.Anchor != "start" {
					t.Errorf("bar %d value text %q at %v", i, b.Text, b.TX)
				}
			}
			if c.H < float64(len(tc.labels))*(rowLabel+rowBar) {
				t.Errorf("height %v for %d steps", c.H, len(tc.labels))
			}
		})
	}
}

func TestBarLen(t *testing.T) {
	for _, tc := range []struct {
		v, max int64
		want   float64
	}{
		{0, 0, 0}, {5, 0, 0}, {-1, 10, 0}, {0, 10, 0}, {10, 10, 100}, {5, 10, 50}, {1, math.MaxInt64, 1}, {math.MaxInt64, math.MaxInt64, 100},
	} {
		if got := barLen(tc.v, tc.max, 100); got != tc.want {
			t.Errorf("barLen(%d, %d) = %v, want %v", tc.v, tc.max, got, tc.want)
		}
	}
}
