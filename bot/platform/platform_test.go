package platform

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAllowPost(t *testing.T) {
	for method, want := range map[string]bool{http.MethodPost: true, http.MethodGet: false, http.MethodPut: false} {
		w := httptest.NewRecorder()
		if got := AllowPost(w, httptest.NewRequest(method, "/webhook", nil)); got != want {
			t.Errorf("%s: %v", method, got)
		}
		if !want && (w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != http.MethodPost) {
			t.Errorf("%s answered %d, Allow %q", method, w.Code, w.Header().Get("Allow"))
		}
	}
}

func TestReadBody(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	w := httptest.NewRecorder()
	body, ok := ReadBody(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("0123456789")), 10, log)
	if !ok || string(body) != "0123456789" {
		t.Fatalf("at the limit: %q %v", body, ok)
	}
	w = httptest.NewRecorder()
	if _, ok := ReadBody(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("secret 01234")), 10, log); ok || w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("over the limit: %v %d", ok, w.Code)
	}
	w = httptest.NewRecorder()
	if _, ok := ReadBody(w, httptest.NewRequest(http.MethodPost, "/", iotestErr{}), 10, log); ok || w.Code != http.StatusBadRequest {
		t.Fatalf("a failing read: %v %d", ok, w.Code)
	}
	if strings.Contains(logs.String(), "secret") {
		t.Fatal("a body reached the log")
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestRunCore(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the platform hung up
	err := RunCore(ctx, time.Second, log, func(ctx context.Context) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("no deadline")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the core saw %v", err)
	}
	if err := RunCore(context.Background(), time.Second, log, func(context.Context) error { panic("boom") }); !errors.Is(err, ErrPanicked) {
		t.Fatalf("a panic gave %v", err)
	}
}

func TestNewClientFollowsNoRedirect(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("the redirect was followed") }))
	defer target.Close()
	srv := httptest.NewServer(http.RedirectHandler(target.URL+"/bot123:secret/sendMessage", http.StatusFound))
	defer srv.Close()
	resp, err := NewClient(4).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
