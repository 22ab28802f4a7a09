package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// WriteMarkdown prints the comparison table, the ratios gocua/floor, and
// each bot's capacity steps.
func (r *report) WriteMarkdown(w io.Writer) {
	o := r.opts
	arrivals := "evenly spaced"
	if o.poisson {
		arrivals = "Poisson"
	}
	fmt.Fprintf(w, "%s arrivals from %d chats; each measurement %v after a %v warm-up; p99 bound %v.\n\n",
		arrivals, o.chats, o.duration, o.warmup, o.p99)
	var g, f *botResult
	for i := range r.bots {
		switch r.bots[i].Name {
		case "gocua":
			g = &r.bots[i]
		case "floor":
			f = &r.bots[i]
		}
	}
	fmt.Fprint(w, "| |")
	for _, b := range r.bots {
		fmt.Fprintf(w, " %s |", b.Name)
	}
	both := g != nil && f != nil
	if both {
		fmt.Fprint(w, " gocua/floor |")
	}
	fmt.Fprint(w, "\n|---|")
	fmt.Fprint(w, strings.Repeat("---:|", len(r.bots)))
	if both {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
	row := func(label string, val func(b *botResult) (float64, string)) {
		fmt.Fprintf(w, "| %s |", label)
		for i := range r.bots {
			_, s := val(&r.bots[i])
			fmt.Fprintf(w, " %s |", s)
		}
		if both {
			gv, _ := val(g)
			fv, _ := val(f)
			if fv > 0 && gv > 0 {
				fmt.Fprintf(w, " %.2f |", gv/fv)
			} else {
				fmt.Fprint(w, " – |")
			}
		}
		fmt.Fprintln(w)
	}
	rate := fmt.Sprintf("%g/s", o.rate)
	if len(o.steps) > 0 {
		row(fmt.Sprintf("capacity at p99 ≤ %v (updates/s)", o.p99), func(b *botResult) (float64, string) {
			s := fmt.Sprintf("%g", b.Capacity)
			switch {
			case b.AllPass:
				s = "≥ " + s
			case b.Capacity == 0:
				s = fmt.Sprintf("< %g", o.steps[0]) // not even the first step
			}
			return b.Capacity, s
		})
	}
	row("p50 webhook→reply at "+rate+" (ms)", func(b *botResult) (float64, string) { return ms(b.At.P50), fmt.Sprintf("%.2f", ms(b.At.P50)) })
	row("p99 webhook→reply at "+rate+" (ms)", func(b *botResult) (float64, string) { return ms(b.At.P99), fmt.Sprintf("%.2f", ms(b.At.P99)) })
	row("replies / updates at "+rate, func(b *botResult) (float64, string) {
		return 0, fmt.Sprintf("%d / %d", b.At.Replied, b.At.Sent)
	})
	row("CPU per update, bot (µs)", func(b *botResult) (float64, string) {
		v := us(b.At.perUpdate(b.At.BotCPU))
		return v, fmt.Sprintf("%.0f", v)
	})
	if len(r.bots) > 0 && r.bots[0].At.ServersMeasured {
		row("CPU per update, bot + Redis + PostgreSQL (µs)", func(b *botResult) (float64, string) {
			v := us(b.At.perUpdate(b.At.BotCPU + b.At.RedisCPU + b.At.PGCPU))
			return v, fmt.Sprintf("%.0f", v)
		})
		row("… of which Redis (µs)", func(b *botResult) (float64, string) {
			v := us(b.At.perUpdate(b.At.RedisCPU))
			return v, fmt.Sprintf("%.0f", v)
		})
		row("… of which PostgreSQL (µs)", func(b *botResult) (float64, string) {
			v := us(b.At.perUpdate(b.At.PGCPU))
			return v, fmt.Sprintf("%.0f", v)
		})
	}
	row("peak RSS, VmHWM (MiB)", func(b *botResult) (float64, string) {
		v := float64(b.PeakRSS) / (1 << 20)
		return v, fmt.Sprintf("%.1f", v)
	})
	row("Bot API calls per update at "+rate, func(b *botResult) (float64, string) {
		var parts []string
		total := int64(0)
		for _, m := range slices.Sorted(maps.Keys(b.Calls)) {
			total += b.Calls[m]
			if b.At.Posted > 0 {
				parts = append(parts, fmt.Sprintf("%s %.2f", m, float64(b.Calls[m])/float64(b.At.Posted)))
			}
		}
		if b.At.Posted == 0 {
			return 0, "–"
		}
		return float64(total) / float64(b.At.Posted), strings.Join(parts, ", ")
	})
	for _, b := range r.bots {
		if b.Profile != "" {
			fmt.Fprintf(w, "\n%s's CPU profile at %s: %s\n", b.Name, rate, b.Profile)
		}
	}
	for _, b := range r.bots {
		fmt.Fprintf(w, "\n%s at %s and the capacity steps:\n\n", b.Name, rate)
		fmt.Fprintln(w, "| rate | updates | replies | p50 ms | p99 ms | max ms | late | busy | dropped | errors | missing | CPU µs/update (bot) | drained after (s) | pass |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
		for i, s := range append([]stepResult{b.At}, b.Steps...) {
			label := fmt.Sprintf("%g", s.Rate)
			switch {
			case i == 0:
				label += " (-rate)"
			case s.Retry:
				label += " (again)"
			}
			pass := "✓"
			if !s.pass(o.p99) {
				pass = "✗"
			}
			fmt.Fprintf(w, "| %s | %d | %d | %.2f | %.2f | %.2f | %d | %d | %d | %d | %d | %.0f | %.1f | %s |\n",
				label, s.Sent, s.Replied, ms(s.P50), ms(s.P99), ms(s.Max), s.Late, s.Busy, s.Dropped, s.Errors, s.Missing,
				us(s.perUpdate(s.BotCPU)), s.Drain.Seconds(), pass)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
