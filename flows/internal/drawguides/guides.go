package main

// guide is one diagram: the file it is written to and how it is drawn.
type guide struct {
	name string
	draw func(c *canvas)
}

// guides are every diagram, in the order they are written.
var guides = []guide{
	{"install_chplay.png", homeScreenPlay},
	{"install_button.png", storeInstallButton},
	{"register_start.png", vneidRegisterButton},
	{"register_chip.png", cardOnPhoneBack},
	{"dvc_login_button.png", portalLoginButton},
	{"dvc_qr_scan.png", qrOnComputer},
}

// render draws a guide and encodes it as PNG.
func render(g guide) []byte {
	c := newCanvas()
	g.draw(c)
	return c.encode()
}

// homeScreenPlay: a home screen of app icons; the store's triangle icon is
// circled, an arrow points at it.
func homeScreenPlay(c *canvas) {
	c.phoneFront(cWallpaper)
	c.statusBar(cDarkGrey)
	c.fill(rrect(sx0+40, sy0+100, sx1-40, sy0+160, 30), cWhite) // search widget
	colours := []uint8{cIcon1, cIcon2, cIcon3, cIcon4}
	const size, gap = 76.0, 22.4
	var playX, playY float64
	for row := range 5 {
		for col := range 4 {
			x := sx0 + gap + float64(col)*(size+gap)
			y := sy0 + 220 + float64(row)*140
			if row == 2 && col == 1 {
				c.playIcon(x, y, size)
				playX, playY = x, y
			} else {
				c.fill(rrect(x, y, x+size, y+size, 17), colours[(row*3+col)%4])
				c.fill(circle(x+size/2, y+size/2, 14+float64((row+col)%3)*4), cWhite)
			}
			c.fill(rrect(x+10, y+size+14, x+size-10, y+size+26, 6), cBar)
		}
	}
	c.fill(rrect(sx0+20, sy1-150, sx1-20, sy1-40, 40), cPanel) // dock
	for col := range 4 {
		x := sx0 + gap + float64(col)*(size+gap)
		c.fill(rrect(x, sy1-133, x+size, sy1-57, 17), colours[(col+2)%4])
	}
	cx, cy := playX+size/2, playY+size/2
	c.ringAround(cx, cy, 66)
	c.pointAt(cx, cy, 92, 300, 0.9)
}

// storeInstallButton: the store page of the app; the wide green install
// button is framed, an arrow points at it.
func storeInstallButton(c *canvas) {
	c.phoneFront(cScreen)
	c.statusBar(cDarkGrey)
	c.fill(poly(pt{sx0 + 40, sy0 + 130}, pt{sx0 + 66, sy0 + 108}, pt{sx0 + 66, sy0 + 152}), cDarkGrey) // back
	c.fill(rrect(sx0+90, sy0+100, sx1-30, sy0+160, 30), cPanel)                                        // search
	c.fill(circle(sx0+124, sy0+130, 12), cBar)
	c.vneidIcon(sx0+30, sy0+200, 130)
	c.fill(rrect(sx0+186, sy0+214, sx1-40, sy0+244, 15), cFrame)      // app name
	c.fill(rrect(sx0+186, sy0+262, sx1-80, sy0+282, 10), cStoreGreen) // developer
	c.fill(rrect(sx0+186, sy0+298, sx1-140, sy0+314, 8), cBar)        // details
	for i := range 3 {                                                // rating, size, age
		x := sx0 + 40 + float64(i)*125
		c.fill(rrect(x, sy0+370, x+80, sy0+392, 11), cDarkGrey)
		c.fill(rrect(x, sy0+404, x+100, sy0+418, 7), cBar)
	}
	bx0, by0, bx1, by1 := sx0+30.0, sy0+470.0, sx1-30.0, sy0+560.0
	c.fill(rrect(bx0, by0, bx1, by1, 30), cStoreGreen)
	for i := range 3 { // screenshots
		x := sx0 + 30 + float64(i)*128
		c.fill(rrect(x, sy0+640, x+112, sy0+860, 14), cPanel)
	}
	c.textLines(sx0+30, sy0+900, sx1-30, 3, 18, 22, cBar)
	c.boxAround(bx0, by0, bx1, by1, 30, 14)
	c.arrow(pt{580, 1000}, pt{(bx0 + bx1) / 2, by1 + 38})
}

// vneidRegisterButton: the app's first screen; of its two buttons the
// lower, register one is framed.
func vneidRegisterButton(c *canvas) {
	c.phoneFront(cScreen)
	c.fill(rrect(sx0, sy0, sx1, sy0+560, 44), cVNRed)
	c.rect(sx0, sy0+500, sx1, sy0+560, cVNRed)
	c.statusBar(cWhite)
	c.emblem((sx0+sx1)/2, sy0+250, 100)
	c.fill(rrect(sx0+90, sy0+400, sx1-90, sy0+430, 15), cWhite)
	c.fill(rrect(sx0+130, sy0+452, sx1-130, sy0+470, 9), cGold)
	c.textLines(sx0+60, sy0+610, sx1-60, 2, 18, 22, cBar)
	// login (filled) and register (outlined) buttons
	c.fill(rrect(sx0+40, sy0+740, sx1-40, sy0+826, 43), cVNRed)
	c.fill(rrect(sx0+150, sy0+774, sx1-150, sy0+792, 9), cWhite)
	rx0, ry0, rx1, ry1 := sx0+40.0, sy0+860.0, sx1-40.0, sy0+946.0
	c.fill(rrectRing(rx0, ry0, rx1, ry1, 43, 6), cVNRed)
	c.fill(rrect(rx0+110, ry0+34, rx1-110, ry0+52, 9), cVNRed)
	c.boxAround(rx0, ry0, rx1, ry1, 43, 14)
	c.arrow(pt{640, 1250}, pt{rx1 - 70, ry1 + 38})
}

// cardOnPhoneBack: the back of the phone, cameras at the top; the ID card
// lies flat on its upper half, with the radio waves of NFC, and an arrow
// presses it on.
func cardOnPhoneBack(c *canvas) {
	c.fill(rrect(px0, py0+120, px1, py1, 64), cFrame)
	c.fill(rrectRing(px0, py0+120, px1, py1, 64, 6), cDarkGrey)
	c.fill(rrect(px0+34, py0+150, px0+184, py0+330, 36), cCamera) // camera block
	for _, y := range []float64{py0 + 196, py0 + 284} {
		c.fill(circle(px0+109, y, 36), cDarkGrey)
		c.fill(circle(px0+109, y, 26), cLens)
	}
	c.fill(circle(px0+220, py0+196, 12), cWhite)  // flash
	c.fill(circle((px0+px1)/2, 980, 40), cCamera) // logo
	// the card, across the upper half
	kx0, ky0, kx1, ky1 := 150.0, 330.0, 570.0, 596.0
	c.fill(rrect(kx0+8, ky0+10, kx1+8, ky1+10, 24), cLens) // shadow
	c.fill(rrect(kx0, ky0, kx1, ky1, 24), cCard)
	c.fill(rrect(kx0+40, ky0+80, kx0+130, ky0+150, 14), cGold) // chip
	c.rect(kx0+40, ky0+112, kx0+130, ky0+118, cDarkGrey)
	c.rect(kx0+82, ky0+80, kx0+88, ky0+150, cDarkGrey)
	c.textLines(kx0+170, ky0+70, kx1-40, 4, 18, 24, cBlue)
	c.fill(rrect(kx0, ky1-50, kx1, ky1-26, 0), cBlue)
	c.fill(rrect(kx0, ky1-50, kx1, ky1, 24), cBlue)
	c.rect(kx0, ky1-50, kx1, ky1-26, cBlue)
	// NFC waves from the chip, outside the card
	for i := range 3 {
		r := 210 + float64(i)*52
		c.fill(ring(kx0+85, ky0+115, r, r+18, -2.5, -1.6), cArrow)
	}
	c.boxAround(kx0, ky0, kx1, ky1, 24, 12)
	c.arrow(pt{470, 60}, pt{470, ky0 - 36})
}

// portalLoginButton: the public-service portal in a phone browser; the
// log-in button at the top right of its header is circled.
func portalLoginButton(c *canvas) {
	c.phoneFront(cScreen)
	c.statusBar(cDarkGrey)
	c.fill(rrect(sx0+24, sy0+92, sx1-24, sy0+148, 28), cPanel) // address bar
	c.fill(rrect(sx0+46, sy0+110, sx0+66, sy0+132, 5), cStoreGreen)
	c.fill(rrect(sx0+84, sy0+112, sx0+300, sy0+128, 8), cBar)
	hy0, hy1 := sy0+170.0, sy0+330.0
	c.rect(sx0, hy0, sx1, hy1, cVNRed)
	c.emblem(sx0+70, (hy0+hy1)/2, 44)
	c.fill(rrect(sx0+130, hy0+56, sx0+260, hy0+76, 10), cWhite)
	c.fill(rrect(sx0+130, hy0+90, sx0+230, hy0+104, 7), cGold)
	bx0, by0, bx1, by1 := sx1-134.0, hy0+52.0, sx1-22.0, hy0+108.0
	c.fill(rrect(bx0, by0, bx1, by1, 16), cWhite)
	c.fill(rrect(bx0+18, by0+21, bx1-18, by1-21, 7), cVNRed)
	c.rect(sx0, hy1, sx1, hy1+56, cGold)                         // menu strip
	c.fill(rrect(sx0+30, hy1+100, sx1-110, hy1+170, 12), cPanel) // search
	c.fill(rrect(sx1-100, hy1+100, sx1-30, hy1+170, 12), cBlue)
	c.fill(ring(sx1-65, hy1+135, 12, 18, 0, 0), cWhite)
	for row := range 3 {
		for col := range 2 {
			x := sx0 + 30 + float64(col)*188
			y := hy1 + 220 + float64(row)*170
			c.fill(rrect(x, y, x+168, y+146, 18), cPanel)
			c.fill(circle(x+84, y+58, 30), []uint8{cIcon1, cIcon2, cIcon3, cIcon4}[(row*2+col)%4])
			c.fill(rrect(x+30, y+108, x+138, y+122, 7), cBar)
		}
	}
	cx, cy := (bx0+bx1)/2, (by0+by1)/2
	c.ringAround(cx, cy, 78)
	c.pointAt(cx, cy, 104, 300, 1.95)
}

// qrOnComputer: a computer screen showing the portal's QR code (framed)
// and the phone held in front of it, its camera view showing the code.
func qrOnComputer(c *canvas) {
	c.fill(rrect(40, 100, 680, 580, 24), cFrame) // monitor
	c.rect(62, 122, 658, 540, cScreen)
	c.rect(62, 122, 658, 176, cVNRed)
	c.emblem(96, 149, 20)
	c.fill(rrect(128, 140, 260, 158, 9), cWhite)
	c.textLines(90, 220, 280, 4, 16, 22, cBar)
	c.fill(poly(pt{320, 580}, pt{400, 580}, pt{420, 660}, pt{300, 660}), cDarkGrey) // stand
	c.fill(rrect(220, 656, 500, 680, 12), cFrame)
	const m = 8.0
	qx, qy := 370.0, 230.0
	c.fill(rrect(qx-30, qy-30, qx+25*m+30, qy+25*m+30, 12), cPanel)
	c.qr(qx, qy, m, 25)
	c.boxAround(qx-16, qy-16, qx+25*m+16, qy+25*m+16, 8, 10)
	// the phone in front, its camera view showing the code
	const fx0, fy0, fx1, fy1 = 230.0, 760.0, 490.0, 1240.0
	c.fill(rrect(fx0, fy0, fx1, fy1, 40), cFrame)
	c.fill(rrect(fx0+14, fy0+14, fx1-14, fy1-14, 28), cCamera)
	const pm = 5.0
	pqx, pqy := (fx0+fx1)/2-12.5*pm, fy0+150
	c.qr(pqx, pqy, pm, 25)
	for _, k := range [][4]float64{{-1, -1, 0, 0}, {1, -1, 1, 0}, {-1, 1, 0, 1}, {1, 1, 1, 1}} {
		x := pqx - 30 + k[2]*(25*pm+60)
		y := pqy - 30 + k[3]*(25*pm+60)
		c.fill(line(pt{x, y}, pt{x - k[0]*40, y}, 10), cWhite) // viewfinder corners
		c.fill(line(pt{x, y}, pt{x, y - k[1]*40}, 10), cWhite)
	}
	c.fill(circle((fx0+fx1)/2, fy1-90, 34), cWhite) // shutter
	c.arrow(pt{(fx0 + fx1) / 2, fy0 - 10}, pt{qx + 12.5*m, qy + 25*m + 60})
}
