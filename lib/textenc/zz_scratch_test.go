package textenc

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"
	"unicode"
)

func TestScratch(t *testing.T) {
	t0 := time.Now()
	g, err := ReadGloVe(GloVePath())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read in %v", time.Since(t0))
	var nonASCII, apos, hyph, digit, single, cyr int
	var ex []string
	for _, w := range g.words {
		if strings.ContainsAny(w, "'") {
			apos++
			if len(ex) < 10 {
				ex = append(ex, w)
			}
		}
		if strings.Contains(w, "-") {
			hyph++
		}
		if strings.IndexFunc(w, unicode.IsDigit) >= 0 {
			digit++
		}
		if len([]rune(w)) == 1 {
			single++
		}
		if strings.IndexFunc(w, func(r rune) bool { return r > 127 }) >= 0 {
			nonASCII++
		}
		if strings.IndexFunc(w, func(r rune) bool { return unicode.Is(unicode.Cyrillic, r) }) >= 0 {
			cyr++
		}
	}
	t.Logf("nonASCII %d apos %d %v hyph %d digit %d single %d cyr %d", nonASCII, apos, ex, hyph, digit, single, cyr)
	var singles []string
	for _, w := range g.words {
		if len([]rune(w)) == 1 {
			singles = append(singles, w)
		}
	}
	t.Logf("singles: %q", singles)
	// OOV on Flickr captions with raw tokens.
	f, _ := os.Open("/work/shared/data/flickr8k_text/Flickr8k.token.txt")
	sc := bufio.NewScanner(f)
	oov := map[string]int{}
	total, miss := 0, 0
	for sc.Scan() {
		_, cap, _ := strings.Cut(sc.Text(), "\t")
		for _, w := range strings.Fields(strings.ToLower(cap)) {
			total++
			if !g.Has(w) {
				miss++
				oov[w]++
			}
		}
	}
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range oov {
		l = append(l, kv{k, v})
	}
	slicesSort(l, func(a, b kv) bool { return a.v > b.v })
	t.Logf("raw tokens %d, oov %d (%d types)", total, miss, len(oov))
	for _, x := range l[:80] {
		t.Logf("  %q %d", x.k, x.v)
	}
}

func slicesSort[T any](s []T, less func(a, b T) bool) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && less(s[j], s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
