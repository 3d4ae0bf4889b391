package ui

import (
	"math"
	"strconv"
	"time"
)

// timeChart is a server-rendered SVG chart: one or more panels stacked
// over a shared time axis, each with its own labelled y axis, one series
// per panel drawn as a line with a marker per point whose <title> is the
// hover text. No script draws it; app.css colours it.
type timeChart struct {
	Width, Height int
	Left, Right   int // plot area's x bounds
	AxisY         int // y of the time axis
	XTicks        []chartTick
	XLabel        string
	Panels        []chartPanel
	Label         string // aria-label
}

type chartTick struct {
	Pos   string // x (time ticks) or y (value ticks)
	Label string
}

type chartPanel struct {
	Title  string
	Class  string // series class: s-a, s-b, s-c
	Top    string
	Bottom string // baseline y
	YTicks []chartTick
	Line   string // polyline points; empty with fewer than two points
	Points []chartPoint
}

type chartPoint struct {
	X, Y  string
	Title string
	Link  string // optional: the point links there
	Faint bool   // drawn hollow (dry runs)
}

// chartSeries is one panel's input.
type chartSeries struct {
	Title  string
	Values []float64
	Format func(float64) string // y tick labels
	Count  bool                 // whole numbers: the axis never shows halves
}

const (
	chartPanelH = 80
	chartGap    = 34
	chartTop    = 18
	chartLeft   = 64
	chartRight  = 16
	chartWidth  = 720
)

// newTimeChart lays out series over the times (ascending). tips[i] is the
// hover text of point i, links[i] its link (both optional). now bounds an
// empty or single-instant span.
func newTimeChart(label, xLabel string, times []time.Time, series []chartSeries, tips, links []string, faint []bool) timeChart {
	ch := timeChart{Width: chartWidth, Left: chartLeft, Right: chartWidth - chartRight, Label: label, XLabel: xLabel}
	n := len(series)
	ch.AxisY = chartTop + n*chartPanelH + (n-1)*chartGap
	ch.Height = ch.AxisY + 34
	if len(times) == 0 {
		return ch
	}
	t0, t1 := times[0], times[len(times)-1]
	if !t1.After(t0) { // one instant: centre it in a 10-minute window
		t0, t1 = t0.Add(-5*time.Minute), t1.Add(5*time.Minute)
	}
	// a little air on both sides so end markers are not cut
	pad := t1.Sub(t0) / 40
	t0, t1 = t0.Add(-pad), t1.Add(pad)
	span := t1.Sub(t0).Seconds()
	xOf := func(t time.Time) float64 {
		return float64(ch.Left) + float64(ch.Right-ch.Left)*t.Sub(t0).Seconds()/span
	}
	ch.XTicks = timeTicks(t0, t1, xOf)
	for i, s := range series {
		top := float64(chartTop + i*(chartPanelH+chartGap))
		bottom := top + chartPanelH
		p := chartPanel{Title: s.Title, Class: "s-" + string(rune('a'+i%3)), Top: f1(top), Bottom: f1(bottom)}
		hi := 0.0
		for _, v := range s.Values {
			hi = math.Max(hi, v)
		}
		top2 := niceCeil(hi)
		if s.Count && top2 < 2 {
			top2 = 2
		}
		for _, v := range []float64{0, top2 / 2, top2} {
			p.YTicks = append(p.YTicks, chartTick{Pos: f1(bottom - chartPanelH*v/top2), Label: s.Format(v)})
		}
		var line []byte
		for j, v := range s.Values {
			if j >= len(times) {
				break
			}
			x, y := xOf(times[j]), bottom-chartPanelH*v/top2
			pt := chartPoint{X: f1(x), Y: f1(y)}
			if j < len(tips) {
				pt.Title = tips[j]
			}
			if j < len(links) {
				pt.Link = links[j]
			}
			if j < len(faint) {
				pt.Faint = faint[j]
			}
			p.Points = append(p.Points, pt)
			line = append(line, pt.X+","+pt.Y+" "...)
		}
		if len(p.Points) > 1 {
			p.Line = string(line)
		}
		ch.Panels = append(ch.Panels, p)
	}
	return ch
}

// niceCeil is the smallest 1, 2 or 5 times a power of ten that is >= v
// (1 for v <= 0).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= v*(1-1e-9) {
			return m * e
		}
	}
	return 10 * e
}

var tickSteps = []time.Duration{
	time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour,
}

// timeTicks returns at most 6 ticks at round UTC times within [t0, t1].
func timeTicks(t0, t1 time.Time, xOf func(time.Time) float64) []chartTick {
	span := t1.Sub(t0)
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= 6 {
			step = s
			break
		}
	}
	layout := "15:04"
	switch {
	case step >= 24*time.Hour:
		layout = "01-02"
	case step < time.Minute:
		layout = "15:04:05"
	case t0.UTC().YearDay() != t1.UTC().YearDay() || t0.UTC().Year() != t1.UTC().Year():
		layout = "01-02 15:04"
	}
	var out []chartTick
	first := t0.UTC().Truncate(step)
	if first.Before(t0) {
		first = first.Add(step)
	}
	for t := first; !t.After(t1) && len(out) < 8; t = t.Add(step) {
		out = append(out, chartTick{Pos: f1(xOf(t)), Label: t.UTC().Format(layout)})
	}
	return out
}

// durationLabel formats seconds for a duration axis.
func durationLabel(s float64) string {
	if s <= 0 {
		return "0"
	}
	return dur(time.Duration(s * float64(time.Second)))
}

// countLabel formats a count axis value (1.5k for 1500).
func countLabel(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func pointClass(p chartPoint) string {
	if p.Faint {
		return "pt faint"
	}
	return "pt"
}
