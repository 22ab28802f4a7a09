package dashboard

import (
	"math"
	"strconv"
)

// The charts are inline SVG drawn by the templates from the geometry
// computed here: SVG attributes and CSS classes only, since the CSP
// forbids inline styles and scripts. These helpers are pure arithmetic.

// Chart sizes, in viewBox units. The width is about a phone's, so the 12px
// labels stay readable there; app.css bounds how wide a chart grows.
const (
	chartWidth = 320.0
	// columns (one bar per day)
	colTop    = 14.0 // room for the value above the tallest bar
	colPlot   = 120.0
	colBottom = 18.0 // room for the labels below
	colMaxLab = 6    // at most this many labels below the bars
	colValues = 16   // values are written above the bars up to this many bars
	// horizontal bars (one group per funnel step)
	rowLabel = 16.0 // the group's label line
	rowBar   = 12.0 // one bar
	rowGap   = 9.0  // between groups
	valueW   = 56.0 // room right of the longest bar for its value
)

// barChart is the geometry of one SVG bar chart.
type barChart struct {
	W, H   float64 // the viewBox
	Title  string  // what the chart shows (its <title>, for screen readers)
	Bars   []chartBar
	Labels []chartText
	Max    int64 // the largest value (0: nothing to show)
	Axis   float64
}

// Empty reports a chart with nothing above zero.
func (c barChart) Empty() bool { return c.Max <= 0 }

// chartBar is one rectangle of a chart and the value written by it.
type chartBar struct {
	X, Y, W, H float64
	Value      int64
	Group      int // which label (day, step) it belongs to
	Series     int // which series (0: the newest) in a group
	Class      string
	Key        string  // what the page ties it to (a step id)
	Text       string  // the value as written ("" : not written)
	TX, TY     float64 // where the value is written
	Anchor     string  // its text-anchor
	Tip        string  // its <title>
}

// chartText is a text of a chart.
type chartText struct {
	X, Y   float64
	Text   string
	Anchor string // text-anchor: start, middle or end
	Class  string
}

// round1 keeps one decimal: short attributes, and never an exponent.
func round1(x float64) float64 { return math.Round(x*10) / 10 }

// barLen is v's share of max over length (0 for nothing; at least a
// visible sliver for any value above zero).
func barLen(v, max int64, length float64) float64 {
	if v <= 0 || max <= 0 {
		return 0
	}
	return math.Max(float64(v)/float64(max)*length, 1)
}

func chartMax(series ...[]int64) int64 {
	var m int64
	for _, s := range series {
		for _, v := range s {
			m = max(m, v)
		}
	}
	return m
}

// chartNum is num, or plain digits when the caller gives no formatter.
func chartNum(num func(int64) string) func(int64) string {
	if num != nil {
		return num
	}
	return func(n int64) string { return strconv.FormatInt(n, 10) }
}

// columnChart lays out one vertical bar per value (a day), labels[i] under
// bar i (thinned out so they never overlap), values above the bars when
// there are few. Negative values count as zero.
func columnChart(values []int64, labels []string, num func(int64) string) barChart {
	num = chartNum(num)
	c := barChart{W: chartWidth, H: colTop + colPlot + colBottom, Max: chartMax(values), Axis: round1(colTop + colPlot)}
	n := len(values)
	if n == 0 {
		return c
	}
	slot := chartWidth / float64(n)
	w := slot * 0.7
	every := (n + colMaxLab - 1) / colMaxLab
	for i, v := range values {
		h := barLen(v, c.Max, colPlot)
		x := float64(i)*slot + (slot-w)/2
		label := ""
		if i < len(labels) {
			label = labels[i]
		}
		b := chartBar{X: round1(x), Y: round1(colTop + colPlot - h), W: round1(w), H: round1(h), Value: max(v, 0),
			Group: i, Class: "bar", TX: round1(x + w/2), TY: round1(colTop + colPlot - h - 3), Anchor: "middle",
			Tip: label + ": " + num(max(v, 0))}
		if n <= colValues {
			b.Text = num(max(v, 0))
		}
		c.Bars = append(c.Bars, b)
		if label != "" && i%every == 0 {
			anchor, lx := "middle", x+w/2
			switch {
			case i == 0 && n > 1:
				anchor, lx = "start", x
			case i == n-1 && n > 1:
				anchor, lx = "end", x+w
			}
			c.Labels = append(c.Labels, chartText{X: round1(lx), Y: c.H - 4, Text: label, Anchor: anchor})
		}
	}
	return c
}

// rowChart lays out horizontal bars: one group per label (a label line, then
// one bar per series), series[s][g] the value of series s in group g (a
// missing value is zero). Every bar's value is written after it.
func rowChart(labels []string, series [][]int64, num func(int64) string) barChart {
	num = chartNum(num)
	c := barChart{W: chartWidth, Max: chartMax(series...)}
	ns := max(len(series), 1)
	group := rowLabel + float64(ns)*(rowBar+2) + rowGap
	c.H = round1(float64(len(labels))*group + 2)
	plot := chartWidth - valueW
	for g, label := range labels {
		top := float64(g) * group
		c.Labels = append(c.Labels, chartText{X: 0, Y: round1(top + rowLabel - 4), Text: label, Anchor: "start", Class: "step"})
		for s := range series {
			var v int64
			if g < len(series[s]) {
				v = max(series[s][g], 0)
			}
			w := barLen(v, c.Max, plot)
			y := top + rowLabel + float64(s)*(rowBar+2)
			c.Bars = append(c.Bars, chartBar{X: 0, Y: round1(y), W: round1(w), H: rowBar, Value: v, Group: g, Series: s,
				Class: "bar", Text: num(v), TX: round1(w + 4), TY: round1(y + rowBar - 2), Anchor: "start",
				Tip: label + ": " + num(v)})
		}
	}
	return c
}
