//go:build integration

package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A window from a container on the host's display: --desktop on an X11
// session (no Wayland socket: fallback-x11 shares X) runs xeyes on an Xvfb,
// whose framebuffer file (-fbdir) is read on the host, decoded and checked
// to show more than the empty root window. With CRUNLITE_SCREENSHOT=FILE
// the screenshot is also saved there as PNG (the README's).
func TestDesktopScreenshot(t *testing.T) {
	needTools(t, "Xvfb", "xauth")
	dir := shareDir(t)
	n := 0
	for n = 400 + os.Getpid()%100; n < 600; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); os.IsNotExist(err) {
			break
		}
	}
	display := fmt.Sprintf(":%d", n)
	xauth := filepath.Join(dir, "Xauthority")
	host, _ := os.Hostname()
	if out, err := exec.Command("xauth", "-f", xauth, "add", host+"/unix"+display, "MIT-MAGIC-COOKIE-1", "fedcba9876543210fedcba9876543210").CombinedOutput(); err != nil {
		t.Fatalf("xauth add: %v\n%s", err, out)
	}
	startServer(t, dir, nil, "Xvfb", display, "-auth", xauth, "-nolisten", "tcp", "-screen", "0", "480x320x24", "-br", "-fbdir", dir)
	waitForSocket(t, fmt.Sprintf("/tmp/.X11-unix/X%d", n))
	s := testStore(t)
	img := loadDesktop(t, s)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append(s.globalFlags(), "run", "--rm", "--desktop", img, "sh", "-c",
		`echo ${DISPLAY:-none} ${WAYLAND_DISPLAY:-no-wayland}; xeyes -geometry 440x280+20+20 -fg red -outline blue & sleep 30`)
	cmd := exec.CommandContext(ctx, Bin, args...)
	cmd.Env = withEnv([]string{"DISPLAY=" + display, "XAUTHORITY=" + xauth, "WAYLAND_DISPLAY", "PULSE_SERVER", "DBUS_SESSION_BUS_ADDRESS"})
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	var shot *image.RGBA
	var drawn int
	waitFor(t, "a window on the display", func() bool {
		shot, drawn = readXvfb(t, filepath.Join(dir, "Xvfb_screen0"))
		return drawn > 2000
	})
	if !strings.HasPrefix(out.String(), display+" no-wayland\n") {
		t.Errorf("--desktop on an X11 session: want DISPLAY=%s and no WAYLAND_DISPLAY, got:\n%s", display, out.String())
	}
	t.Logf("%d of %d pixels drawn", drawn, shot.Bounds().Dx()*shot.Bounds().Dy())
	// xeyes's colours, as asked: red pupils, a blue outline.
	red, blue := 0, 0
	for y := 0; y < shot.Bounds().Dy(); y++ {
		for x := 0; x < shot.Bounds().Dx(); x++ {
			switch c := shot.RGBAAt(x, y); {
			case c.R > 200 && c.G < 60 && c.B < 60:
				red++
			case c.B > 200 && c.R < 60 && c.G < 60:
				blue++
			}
		}
	}
	if red < 500 || blue < 500 {
		t.Errorf("the screenshot lacks xeyes's red pupils or blue outline: %d red, %d blue pixels", red, blue)
	}
	if path := os.Getenv("CRUNLITE_SCREENSHOT"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := png.Encode(f, shot); err != nil {
			t.Fatal(err)
		}
	}
}

// readXvfb decodes Xvfb's framebuffer file, an XWD image (a header of 25
// big-endian 32-bit fields, the window name, the colormap, then the
// pixels; 24-bit depth in 32-bit pixels here), and counts the pixels that
// differ from the root window's colour (the top-left pixel's).
func readXvfb(t *testing.T, path string) (*image.RGBA, int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 100 {
		return nil, 0
	}
	var h [25]uint32
	for i := range h {
		h[i] = binary.BigEndian.Uint32(b[i*4:])
	}
	headerSize, width, height, byteOrder, bpp, bytesPerLine, ncolors := h[0], int(h[4]), int(h[5]), h[7], h[11], int(h[12]), h[19]
	if bpp != 32 {
		t.Fatalf("Xvfb framebuffer: %d bits per pixel, this reader knows 32", bpp)
	}
	data := b[headerSize+ncolors*12:]
	if len(data) < bytesPerLine*height {
		return nil, 0
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	var bg uint32
	drawn := 0
	for y := 0; y < height; y++ {
		for x := 0; x < width; x++ {
			p := data[y*bytesPerLine+x*4:]
			var v uint32
			if byteOrder == 0 {
				v = binary.LittleEndian.Uint32(p)
			} else {
				v = binary.BigEndian.Uint32(p)
			}
			if x == 0 && y == 0 {
				bg = v
			}
			if v != bg {
				drawn++
			}
			img.Set(x, y, color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xff})
		}
	}
	return img, drawn
}
