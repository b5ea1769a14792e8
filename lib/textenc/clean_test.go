package textenc

import (
	"slices"
	"strings"
	"testing"
)

func TestClean(t *testing.T) {
	cases := []struct{ in, want string }{
		{"A child in a pink dress is climbing up a set of stairs in an entry way .", "a child in a pink dress is climbing up a set of stairs in an entry way"},
		{"A dog 's ball", "a dog ball"},
		{"The dog's ball and the dogs' toys", "the dog ball and the dogs toys"},
		{"Don't stop, it’s O'Neil!", "dont stop it oneil"},
		{"An ant 's-eye-view, the ant's-eye-view", "an ant eye-view the ant eye-view"},
		{"A man in a T-shirt and a 4-wheeler", "a man in a t-shirt and a 4-wheeler"},
		{"dash - here -- and -there- end-", "dash here and there end"},
		{"Café NAÏVE ﬁne Ｆｕｌｌ", "cafe naive fine full"},
		{"  many\t\nspaces\u00a0here  ", "many spaces here"},
		{"1,234.5 $ 50% #1", "1 234 5 50 1"},
		{"Собака бежит по снегу.", "собака бежит по снегу"},
		{"北京大学", "北京大学"},
		{"emoji 😀 here", "emoji here"},
		{"", ""},
		{" .,;!? ... ", ""},
		{"ctrl\x00char\x1b", "ctrl char"},
	}
	for _, c := range cases {
		got := Clean(c.in)
		if got != c.want {
			t.Errorf("Clean(%q) = %q, want %q", c.in, got, c.want)
		}
		if again := Clean(got); again != got {
			t.Errorf("Clean not idempotent on %q: %q", got, again)
		}
	}
	if got := Words(Clean("A dog 's ball .")); !slices.Equal(got, []string{"a", "dog", "ball"}) {
		t.Errorf("Words = %q", got)
	}
	if got := Words(""); len(got) != 0 {
		t.Errorf("Words(\"\") = %q", got)
	}
}

// TestCleanCaptions runs Clean over every Flickr8k caption: idempotent, no stray spaces,
// only letters, digits, inner hyphens and single spaces.
func TestCleanCaptions(t *testing.T) {
	caps := flickr8kCaptions(t)
	for _, c := range caps {
		got := Clean(c.Text)
		if Clean(got) != got || strings.HasPrefix(got, " ") || strings.HasSuffix(got, " ") || strings.Contains(got, "  ") {
			t.Fatalf("%s: Clean(%q) = %q", c.Image, c.Text, got)
		}
		if got == "" {
			t.Errorf("%s: caption %q cleans to nothing", c.Image, c.Text)
		}
	}
}
