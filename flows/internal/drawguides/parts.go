package main

import "math"

// The phone seen from the front: frame and screen (sx0…sy1).
const (
	px0, py0, px1, py1 = 130.0, 70.0, 590.0, 1210.0
	sx0, sy0, sx1, sy1 = 152.0, 92.0, 568.0, 1188.0
)

// phoneFront draws the frame and an empty screen of colour bg.
func (c *canvas) phoneFront(bg uint8) {
	c.fill(rrect(px0, py0, px1, py1, 64), cFrame)
	c.fill(rrect(sx0, sy0, sx1, sy1, 44), bg)
	c.fill(rrect(310, 104, 410, 124, 10), cFrame) // the camera notch
}

// statusBar draws the thin bars at the top of a screen.
func (c *canvas) statusBar(col uint8) {
	c.fill(rrect(sx0+40, sy0+44, sx0+110, sy0+60, 8), col)
	c.fill(rrect(sx1-120, sy0+44, sx1-40, sy0+60, 8), col)
}

// textLines draws n grey bars standing for lines of text, the last shorter.
func (c *canvas) textLines(x0, y0, x1 float64, n int, h, gap float64, col uint8) {
	for i := range n {
		end := x1
		if i == n-1 && n > 1 {
			end = x0 + (x1-x0)*0.6
		}
		y := y0 + float64(i)*(h+gap)
		c.fill(rrect(x0, y, end, y+h, h/2), col)
	}
}

// ringAround circles a point: a thick red ring with white edges so it shows
// on any background.
func (c *canvas) ringAround(cx, cy, r float64) {
	c.fill(ring(cx, cy, r-5, r+19, 0, 0), cWhite)
	c.fill(ring(cx, cy, r, r+14, 0, 0), cRing)
}

// boxAround frames a rectangle the same way, d pixels outside it.
func (c *canvas) boxAround(x0, y0, x1, y1, r, d float64) {
	c.fill(rrectRing(x0-d-5, y0-d-5, x1+d+5, y1+d+5, r+d+5, 24), cWhite)
	c.fill(rrectRing(x0-d, y0-d, x1+d, y1+d, r+d, 14), cRing)
}

// arrow points from tail to tip: a thick orange shaft and head outlined in
// white.
func (c *canvas) arrow(tail, tip pt) {
	dx, dy := tip.x-tail.x, tip.y-tail.y
	l := math.Hypot(dx, dy)
	ux, uy := dx/l, dy/l // along
	nx, ny := -uy, ux    // across
	const head, half, shaft = 70.0, 46.0, 28.0
	base := pt{tip.x - ux*head, tip.y - uy*head}
	tri := func(grow float64) shape {
		return poly(
			pt{tip.x + ux*grow*1.6, tip.y + uy*grow*1.6},
			pt{base.x + nx*(half+grow) - ux*grow, base.y + ny*(half+grow) - uy*grow},
			pt{base.x - nx*(half+grow) - ux*grow, base.y - ny*(half+grow) - uy*grow},
		)
	}
	end := pt{base.x + ux*4, base.y + uy*4}
	c.fill(line(tail, end, shaft+12), cWhite)
	c.fill(tri(7), cWhite)
	c.fill(line(tail, end, shaft), cArrow)
	c.fill(tri(0), cArrow)
}

// pointAt draws an arrow ending d pixels from (cx, cy), coming from angle a
// (radians; 0 = from the right, π/2 = from below).
func (c *canvas) pointAt(cx, cy, d, length, a float64) {
	ux, uy := math.Cos(a), math.Sin(a)
	c.arrow(pt{cx + ux*(d+length), cy + uy*(d+length)}, pt{cx + ux*d, cy + uy*d})
}

// playIcon is the store's icon: a white tile with a four-colour triangle.
func (c *canvas) playIcon(x, y, s float64) {
	c.fill(rrect(x, y, x+s, y+s, s*0.22), cWhite)
	k := s / 76
	a := pt{x + 20*k, y + 12*k}
	b := pt{x + 20*k, y + 64*k}
	tip := pt{x + 62*k, y + 38*k}
	n := pt{x + 40*k, y + 38*k}
	lerp := func(p, q pt, t float64) pt { return pt{p.x + (q.x-p.x)*t, p.y + (q.y-p.y)*t} }
	q1, q2 := lerp(a, tip, 0.62), lerp(b, tip, 0.62)
	c.fill(poly(a, n, b), cPlayBlue)
	c.fill(poly(a, q1, n), cPlayGreen)
	c.fill(poly(b, n, q2), cPlayRed)
	c.fill(poly(q1, tip, q2, n), cPlayYellow)
}

// vneidIcon is a red tile with a yellow star (the VNeID app, simplified).
func (c *canvas) vneidIcon(x, y, s float64) {
	c.fill(rrect(x, y, x+s, y+s, s*0.22), cVNRed)
	c.fill(star(x+s/2, y+s/2+s*0.03, s*0.34), cGold)
}

// emblem is a red disc with a gold edge and a yellow star.
func (c *canvas) emblem(cx, cy, r float64) {
	c.fill(circle(cx, cy, r), cGold)
	c.fill(circle(cx, cy, r*0.86), cVNRed)
	c.fill(star(cx, cy+r*0.05, r*0.6), cGold)
}

// qr draws a QR-like square of n×n modules of size m at (x, y): three
// finder squares and a fixed pattern (a formula, not random numbers).
func (c *canvas) qr(x, y, m float64, n int) {
	c.rect(x-2*m, y-2*m, x+float64(n+2)*m, y+float64(n+2)*m, cWhite)
	finder := func(i, j int) bool {
		for _, o := range [][2]int{{0, 0}, {n - 7, 0}, {0, n - 7}} {
			di, dj := i-o[0], j-o[1]
			if di >= 0 && di < 7 && dj >= 0 && dj < 7 {
				return true
			}
		}
		return false
	}
	for j := range n {
		for i := range n {
			dark := false
			if finder(i, j) {
				di, dj := i%(n-7), j%(n-7)
				if i >= n-7 {
					di = i - (n - 7)
				}
				if j >= n-7 {
					dj = j - (n - 7)
				}
				edge := di == 0 || di == 6 || dj == 0 || dj == 6
				core := di >= 2 && di <= 4 && dj >= 2 && dj <= 4
				dark = edge || core
			} else if !(i < 8 && j < 8) && !(i >= n-8 && j < 8) && !(i < 8 && j >= n-8) {
				dark = (i*i*7+j*13+i*j*5+3)%11 < 5
			}
			if dark {
				c.rect(x+float64(i)*m, y+float64(j)*m, x+float64(i+1)*m, y+float64(j+1)*m, cBlack)
			}
		}
	}
}
