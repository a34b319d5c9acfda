package transfer

import (
	"reflect"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestApplyChanges(t *testing.T) {
	cfg := imgspecv1.ImageConfig{Env: []string{"PATH=/bin", "A=1"}, WorkingDir: "/srv"}
	err := ApplyChanges(&cfg, []string{
		`CMD ["/bin/sh", "-c", "echo hi"]`,
		`ENTRYPOINT /entry --flag`,
		`ENV A=2 B="two words"`,
		`ENV C old form`,
		`WORKDIR app`,
		`USER=1000:1000`,
		`EXPOSE 80 53/udp`,
		`LABEL org.example.x=y`,
		`VOLUME ["/data"]`,
		`stopsignal SIGINT`,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := imgspecv1.ImageConfig{
		Cmd:          []string{"/bin/sh", "-c", "echo hi"},
		Entrypoint:   []string{"/bin/sh", "-c", "/entry --flag"},
		Env:          []string{"PATH=/bin", "A=2", "B=two words", "C=old form"},
		WorkingDir:   "/srv/app",
		User:         "1000:1000",
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}},
		Labels:       map[string]string{"org.example.x": "y"},
		Volumes:      map[string]struct{}{"/data": {}},
		StopSignal:   "SIGINT",
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got  %+v\nwant %+v", cfg, want)
	}
}

func TestApplyChangesRejects(t *testing.T) {
	for _, c := range []string{"RUN make", "CMD", `CMD ["unterminated"`, `ENV A="x`, "EXPOSE http", "ENV =x"} {
		var cfg imgspecv1.ImageConfig
		if err := ApplyChanges(&cfg, []string{c}); err == nil {
			t.Errorf("%q: accepted, want an error", c)
		}
	}
}
