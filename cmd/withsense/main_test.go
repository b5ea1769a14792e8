package main

import (
	"slices"
	"testing"
)

func TestFlagsAfterTheQuery(t *testing.T) {
	fs := flags("search")
	k := fs.Int("k", 5, "")
	js := fs.Bool("json", false, "")
	pos, err := parseInterleaved(fs, []string{"two dogs in water", "-k", "3", "-json"})
	if err != nil || !slices.Equal(pos, []string{"two dogs in water"}) || *k != 3 || !*js {
		t.Errorf("parsed %q k=%d json=%v err=%v", pos, *k, *js, err)
	}
	fs = flags("search")
	fs.Int("k", 5, "")
	if _, err := parseInterleaved(fs, []string{"q", "-k", "many"}); err == nil {
		t.Error("-k many accepted")
	}
}

func TestEveryCommandHasUsage(t *testing.T) {
	for name, c := range commands {
		if c.summary == "" || c.usage == "" || c.run == nil {
			t.Errorf("command %s lacks a summary, usage or function", name)
		}
	}
}
