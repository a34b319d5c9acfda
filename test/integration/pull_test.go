//go:build integration

package integration

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPullQuiet: pull -q prints the image ID and nothing else, on a pull
// that fetches layers as on one that finds the image up to date.
func TestPullQuiet(t *testing.T) {
	addr, _, _ := ownRegistry(t, "")
	multiLayerImage(t, addr, "test/quiet", 2, 256<<10)
	image := addr + "/test/quiet:latest"
	s := testStore(t)
	for _, what := range []string{"a pull that fetches layers", "an up-to-date pull"} {
		r := mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
		imgs := listImages(t, s)
		if len(imgs) != 1 || r.Stdout != imgs[0].ID+"\n" || r.Stderr != "" {
			t.Errorf("pull -q, %s: want only the ID on stdout and nothing on stderr (images: %+v): %s", what, imgs, r)
		}
	}
	// Without -q the same pull reports progress on stderr, the ID on stdout.
	r := mustCrunIn(t, testStore(t), "pull", "--tls-verify=false", image)
	if !hexID.MatchString(r.Stdout) || !strings.Contains(r.Stderr, "Copying blob") {
		t.Errorf("pull without -q: %s", r)
	}
}

// blobGate is an HTTP proxy in front of a registry that holds back each
// layer download until another blob download is under way, or a deadline
// passes, and records how many blob downloads were under way at most:
// a pull that fetched layers one after the other would see one.
type blobGate struct {
	mu       sync.Mutex
	inFlight int
	peak     int
	two      chan struct{} // closed once two blob downloads are under way
	deadline time.Duration
}

func isBlobGet(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:")
}

func (g *blobGate) enter() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inFlight++
	if g.inFlight > g.peak {
		g.peak = g.inFlight
		if g.peak == 2 {
			close(g.two)
		}
	}
}

func (g *blobGate) leave() {
	g.mu.Lock()
	g.inFlight--
	g.mu.Unlock()
}

// hold delays the body of a layer (anything but the small config blob).
func (g *blobGate) hold(resp *http.Response) error {
	if isBlobGet(resp.Request) && resp.StatusCode == http.StatusOK && resp.ContentLength > 64<<10 {
		select {
		case <-g.two:
		case <-time.After(g.deadline):
		}
	}
	return nil
}

func newBlobGate(t *testing.T, upstream string) (*blobGate, string) {
	t.Helper()
	target, err := url.Parse("http://" + upstream)
	if err != nil {
		t.Fatal(err)
	}
	g := &blobGate{two: make(chan struct{}), deadline: 20 * time.Second}
	proxy := &httputil.ReverseProxy{
		Rewrite:        func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:      &http.Transport{Proxy: nil},
		ModifyResponse: g.hold,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isBlobGet(r) {
			g.enter()
			defer g.leave()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return g, strings.TrimPrefix(srv.URL, "http://")
}

// TestPullFetchesLayersInParallel: several layers of one image are
// downloaded at the same time.
func TestPullFetchesLayersInParallel(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			addr, _, _ := ownRegistry(t, "")
			files := multiLayerImage(t, addr, "test/parallel", 3, 1<<20)
			gate, proxy := newBlobGate(t, addr)
			s := testStore(t)
			s.Extra = k.extra
			image := proxy + "/test/parallel:latest"
			mustCrunIn(t, s, "pull", "-q", "--tls-verify=false", image)
			gate.mu.Lock()
			peak := gate.peak
			gate.mu.Unlock()
			if peak < 2 {
				t.Errorf("at most %d blob download at a time, want layers fetched in parallel", peak)
			}
			checkLayersImage(t, s, image, files)
		})
	}
}
