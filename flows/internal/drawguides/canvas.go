package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
)

// Width and Height are the size of every diagram.
const (
	Width  = 720
	Height = 1280
)

// Palette indexes: flat colours only, so the PNGs stay small.
const (
	cBackground uint8 = iota
	cFrame
	cScreen
	cBar
	cPanel
	cRing
	cArrow
	cWhite
	cStoreGreen
	cPlayBlue
	cPlayYellow
	cPlayRed
	cPlayGreen
	cVNRed
	cGold
	cDarkGrey
	cIcon1
	cIcon2
	cIcon3
	cIcon4
	cBlack
	cCard
	cWallpaper
	cLens
	cCamera
	cBlue
)

var palette = color.Palette{
	cBackground: color.RGBA{0xE8, 0xEE, 0xF4, 0xFF},
	cFrame:      color.RGBA{0x1F, 0x23, 0x28, 0xFF},
	cScreen:     color.RGBA{0xFF, 0xFF, 0xFF, 0xFF},
	cBar:        color.RGBA{0xB8, 0xBE, 0xC6, 0xFF},
	cPanel:      color.RGBA{0xE3, 0xE6, 0xEA, 0xFF},
	cRing:       color.RGBA{0xE5, 0x32, 0x2D, 0xFF},
	cArrow:      color.RGBA{0xFF, 0x7A, 0x00, 0xFF},
	cWhite:      color.RGBA{0xFF, 0xFF, 0xFF, 0xFF},
	cStoreGreen: color.RGBA{0x01, 0x87, 0x5F, 0xFF},
	cPlayBlue:   color.RGBA{0x42, 0x85, 0xF4, 0xFF},
	cPlayYellow: color.RGBA{0xFB, 0xBC, 0x04, 0xFF},
	cPlayRed:    color.RGBA{0xEA, 0x43, 0x35, 0xFF},
	cPlayGreen:  color.RGBA{0x34, 0xA8, 0x53, 0xFF},
	cVNRed:      color.RGBA{0xC8, 0x10, 0x2E, 0xFF},
	cGold:       color.RGBA{0xF6, 0xC3, 0x43, 0xFF},
	cDarkGrey:   color.RGBA{0x5F, 0x66, 0x70, 0xFF},
	cIcon1:      color.RGBA{0x9F, 0xB3, 0xC8, 0xFF},
	cIcon2:      color.RGBA{0xC5, 0xB3, 0xD6, 0xFF},
	cIcon3:      color.RGBA{0xA8, 0xD5, 0xBA, 0xFF},
	cIcon4:      color.RGBA{0xF2, 0xC6, 0xA0, 0xFF},
	cBlack:      color.RGBA{0x00, 0x00, 0x00, 0xFF},
	cCard:       color.RGBA{0xCF, 0xE3, 0xF5, 0xFF},
	cWallpaper:  color.RGBA{0xDD, 0xE9, 0xF7, 0xFF},
	cLens:       color.RGBA{0x0B, 0x0D, 0x10, 0xFF},
	cCamera:     color.RGBA{0x3A, 0x3F, 0x47, 0xFF},
	cBlue:       color.RGBA{0x1E, 0x5A, 0xA8, 0xFF},
}

// canvas is a paletted image drawn with hard-edged shapes: every pixel is
// inside a shape or not (sampled at its centre), so the output depends on
// nothing but the code.
type canvas struct{ img *image.Paletted }

func newCanvas() *canvas {
	c := &canvas{img: image.NewPaletted(image.Rect(0, 0, Width, Height), palette)}
	c.rect(0, 0, Width, Height, cBackground)
	return c
}

// shape reports whether a point is inside; box bounds where it can be.
type shape struct {
	x0, y0, x1, y1 float64
	in             func(x, y float64) bool
}

func (c *canvas) fill(s shape, col uint8) {
	b := c.img.Bounds()
	x0, y0 := max(int(math.Floor(s.x0)), b.Min.X), max(int(math.Floor(s.y0)), b.Min.Y)
	x1, y1 := min(int(math.Ceil(s.x1)), b.Max.X), min(int(math.Ceil(s.y1)), b.Max.Y)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			if s.in(float64(x)+0.5, float64(y)+0.5) {
				c.img.SetColorIndex(x, y, col)
			}
		}
	}
}

func (c *canvas) rect(x0, y0, x1, y1 float64, col uint8) { c.fill(rrect(x0, y0, x1, y1, 0), col) }

// rrect is a rectangle with corners rounded by r.
func rrect(x0, y0, x1, y1, r float64) shape {
	return shape{x0, y0, x1, y1, func(x, y float64) bool {
		if x < x0 || x >= x1 || y < y0 || y >= y1 {
			return false
		}
		cx := math.Max(x0+r, math.Min(x, x1-r))
		cy := math.Max(y0+r, math.Min(y, y1-r))
		return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r
	}}
}

func circle(cx, cy, r float64) shape {
	return shape{cx - r, cy - r, cx + r, cy + r, func(x, y float64) bool {
		return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r
	}}
}

// ring is the band between radius r0 and r1; with from < to (radians,
// 0 = right, clockwise since y grows down) only that arc of it.
func ring(cx, cy, r0, r1, from, to float64) shape {
	return shape{cx - r1, cy - r1, cx + r1, cy + r1, func(x, y float64) bool {
		d := (x-cx)*(x-cx) + (y-cy)*(y-cy)
		if d < r0*r0 || d > r1*r1 {
			return false
		}
		if from >= to {
			return true
		}
		a := math.Atan2(y-cy, x-cx)
		return a >= from && a <= to
	}}
}

// minus is a without b.
func minus(a, b shape) shape {
	return shape{a.x0, a.y0, a.x1, a.y1, func(x, y float64) bool { return a.in(x, y) && !b.in(x, y) }}
}

// rrectRing is the border of width w inside a rounded rectangle.
func rrectRing(x0, y0, x1, y1, r, w float64) shape {
	return minus(rrect(x0, y0, x1, y1, r), rrect(x0+w, y0+w, x1-w, y1-w, math.Max(r-w, 0)))
}

type pt struct{ x, y float64 }

// poly is a polygon (even-odd rule).
func poly(ps ...pt) shape {
	s := shape{x0: math.Inf(1), y0: math.Inf(1), x1: math.Inf(-1), y1: math.Inf(-1)}
	for _, p := range ps {
		s.x0, s.y0 = math.Min(s.x0, p.x), math.Min(s.y0, p.y)
		s.x1, s.y1 = math.Max(s.x1, p.x), math.Max(s.y1, p.y)
	}
	s.in = func(x, y float64) bool {
		in := false
		for i, j := 0, len(ps)-1; i < len(ps); j, i = i, i+1 {
			a, b := ps[i], ps[j]
			if (a.y > y) != (b.y > y) && x < (b.x-a.x)*(y-a.y)/(b.y-a.y)+a.x {
				in = !in
			}
		}
		return in
	}
	return s
}

// line is a segment of width w with round ends.
func line(a, b pt, w float64) shape {
	r := w / 2
	dx, dy := b.x-a.x, b.y-a.y
	l2 := dx*dx + dy*dy
	return shape{math.Min(a.x, b.x) - r, math.Min(a.y, b.y) - r, math.Max(a.x, b.x) + r, math.Max(a.y, b.y) + r,
		func(x, y float64) bool {
			t := 0.0
			if l2 > 0 {
				t = math.Max(0, math.Min(1, ((x-a.x)*dx+(y-a.y)*dy)/l2))
			}
			px, py := a.x+t*dx-x, a.y+t*dy-y
			return px*px+py*py <= r*r
		}}
}

// star is a five-pointed star.
func star(cx, cy, r float64) shape {
	var ps []pt
	for i := range 10 {
		rr := r
		if i%2 == 1 {
			rr = r * 0.4
		}
		a := -math.Pi/2 + float64(i)*math.Pi/5
		ps = append(ps, pt{cx + rr*math.Cos(a), cy + rr*math.Sin(a)})
	}
	return poly(ps...)
}

// encode writes the PNG with a fixed compression level: the same image
// always gives the same bytes.
func (c *canvas) encode() []byte {
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&b, c.img); err != nil {
		panic(err) // writing to a bytes.Buffer cannot fail
	}
	return b.Bytes()
}
