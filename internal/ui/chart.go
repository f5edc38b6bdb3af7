package ui

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// Shape of the per-minute chart.
const (
	chartMinutes = 60
	chartBarW    = 10 // width of a minute's slot
	chartLeft    = 34 // room for the y axis labels
	chartTop     = 8
	chartPlotH   = 110
	chartBottom  = 22 // room for the x axis labels
)

// chart is the last hour's deliveries per minute by outcome, laid out as
// an SVG bar chart by the server: no JavaScript is needed to draw it.
type chart struct {
	Width, Height int
	PlotTop       int
	PlotBottom    int
	PlotH         int
	PlotRight     int
	Left          int
	Bars          []chartBar
	Ticks         []chartTick // x axis
	Grid          []chartTick // y axis
	Succeeded     int
	Failed        int
	Pending       int
}

// chartBar is one minute: its stacked segments and a tooltip.
type chartBar struct {
	X, W  int
	Segs  []chartSeg
	Title string
}

// chartSeg is one outcome's part of a bar.
type chartSeg struct {
	Y, H  int
	Class string
}

// chartTick is an axis label and where it goes.
type chartTick struct {
	X, Y  int
	Label string
}

// chartCounts are one minute's deliveries by outcome.
type chartCounts struct{ succeeded, failed, pending int }

// lastHourChart counts the deliveries the session sees created in the
// last hour, per minute and outcome (the store does the counting), and
// lays them out.
func (u *UI) lastHourChart(r *http.Request, s *session) (*chart, error) {
	now := u.now().UTC()
	start := now.Truncate(time.Minute).Add(-(chartMinutes - 1) * time.Minute)
	f := store.DeliveryFilter{Tenant: s.tenantFilter(), Since: start, Until: start.Add(chartMinutes * time.Minute)}
	hist, err := u.store.DeliveryHistogram(r.Context(), f, time.Minute)
	if err != nil {
		return nil, fmt.Errorf("count deliveries for the chart: %w", err)
	}
	buckets := make([]chartCounts, chartMinutes)
	for i, b := range hist[:min(len(hist), chartMinutes)] {
		buckets[i] = chartCounts{succeeded: b.Succeeded, failed: b.Failed, pending: b.Pending}
	}
	return layoutChart(buckets, start), nil
}

// layoutChart places the bars of buckets, one per minute from start.
func layoutChart(buckets []chartCounts, start time.Time) *chart {
	c := &chart{
		Width:      chartLeft + len(buckets)*chartBarW + 16,
		PlotRight:  chartLeft + len(buckets)*chartBarW,
		Height:     chartTop + chartPlotH + chartBottom,
		PlotTop:    chartTop,
		PlotBottom: chartTop + chartPlotH,
		PlotH:      chartPlotH,
		Left:       chartLeft,
	}
	peak := 0
	for _, b := range buckets {
		peak = max(peak, b.succeeded+b.failed+b.pending)
		c.Succeeded += b.succeeded
		c.Failed += b.failed
		c.Pending += b.pending
	}
	top := niceCeil(peak)
	scale := func(n int) int { return n * chartPlotH / top }
	for i, b := range buckets {
		x := chartLeft + i*chartBarW
		bar := chartBar{
			X: x + 1, W: chartBarW - 2,
			Title: fmt.Sprintf("%s UTC: %d succeeded, %d failed, %d pending",
				start.Add(time.Duration(i)*time.Minute).Format("15:04"), b.succeeded, b.failed, b.pending),
		}
		// Stack from the bottom: succeeded, failed, pending. Heights are
		// cumulative so that rounding never leaves gaps.
		y0, acc := c.PlotBottom, 0
		for _, p := range []struct {
			n     int
			class string
		}{{b.succeeded, "ok"}, {b.failed, "fail"}, {b.pending, "pend"}} {
			if p.n == 0 {
				continue
			}
			acc += p.n
			y := c.PlotBottom - scale(acc)
			h := y0 - y
			if h < 1 {
				h, y = 1, y0-1
			}
			bar.Segs = append(bar.Segs, chartSeg{Y: y, H: h, Class: p.class})
			y0 = y
		}
		c.Bars = append(c.Bars, bar)
		if i%10 == 0 || i == len(buckets)-1 {
			c.Ticks = append(c.Ticks, chartTick{X: x + chartBarW/2, Y: c.PlotBottom + 15, Label: start.Add(time.Duration(i) * time.Minute).Format("15:04")})
		}
	}
	for _, n := range []int{0, top / 2, top} {
		c.Grid = append(c.Grid, chartTick{X: chartLeft - 4, Y: c.PlotBottom - scale(n), Label: fmt.Sprint(n)})
	}
	return c
}

// niceCeil returns a round number at least n (and at least 2, so that the
// half line is a whole number): 2, 4, 6, 10, 20, 40, 60, 100, ...
func niceCeil(n int) int {
	if n <= 2 {
		return 2
	}
	for m := 1; ; m *= 10 {
		for _, f := range []int{2, 4, 6, 10} {
			if f*m >= n {
				return f * m
			}
		}
	}
}
