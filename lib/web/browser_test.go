package web

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/withsense/withsense/lib/headless"
	"github.com/withsense/withsense/lib/search"
)

// TestPageInBrowser drives the page in headless Chromium as a person would: a typed
// description shows photos that load, a blocked one shows the notice, an empty one the
// server's message.
func TestPageInBrowser(t *testing.T) {
	if _, err := headless.Find(); err != nil {
		if os.Getenv(headless.RequireEnv) != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ts, _, _ := newServer(t, Options{})
	ctx, cancel, err := headless.New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 20*time.Second)
	defer cancelT()

	submit := func(query string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				_, err := chromedp.Evaluate[string](`document.getElementById("q").value = ""`)(ctx, t)
				return err
			}),
			chromedp.SendKeys(chromedp.ID("q"), query),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
		)
	}
	// shownNow waits until the element with this id is no longer hidden.
	shownNow := func(id string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Poll[bool](`!document.getElementById(`+strconv.Quote(id)+`).hidden || null`, chromedp.WithPollingTimeout(10*time.Second))(ctx, t)
			return err
		})
	}
	count := func(sel string) int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(sel)+`).length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	text := func(sel chromedp.CSS) string {
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	err = chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SetValue(chromedp.ID("k"), "3"),
		submit("dog water"),
		chromedp.WaitVisible(chromedp.CSS("#results li img")),
	)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until every photo has finished loading (or failed), then count those with pixels.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`[...document.images].every(i => i.complete) || null`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatal(err)
	}
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll("#results img")].filter(i => i.naturalWidth > 0).length`))
	if err != nil {
		t.Fatal(err)
	}
	shown, first, summary := count("#results li"), text("#results li .meta"), text("#summary")
	if shown != 3 || loaded != 3 || !strings.Contains(first, "dog_water") || !strings.Contains(first, "2.000") || !strings.Contains(first, "why: dog, water") {
		t.Errorf("typed query: %d results shown, %d photos loaded, first %q", shown, loaded, first)
	}
	if !strings.Contains(summary, "3 photos for “dog water”") {
		t.Errorf("summary %q", summary)
	}

	if err := chromedp.Do(ctx, submit("two girls on a swing"), shownNow("notice")); err != nil {
		t.Fatal(err)
	}
	if notice, left := text("#notice"), count("#results li"); notice != search.Notice || left != 0 {
		t.Errorf("blocked query: notice %q, %d photos", notice, left)
	}

	if err := chromedp.Do(ctx, submit("   "), shownNow("message")); err != nil {
		t.Fatal(err)
	}
	noticeHidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("notice").hidden`))
	if err != nil {
		t.Fatal(err)
	}
	if message := text("#message"); message != search.ErrEmptyQuery.Error() || !noticeHidden {
		t.Errorf("empty query: message %q, notice hidden %v", message, noticeHidden)
	}
}
