package search

import "testing"

func TestBlocked(t *testing.T) {
	for _, tc := range []struct {
		query string
		word  string // "" = not blocked
	}{
		{"A little girl in a pink dress", "girl"},
		{"Two boys are squirting water guns at each other .", "boys"},
		{"The boy's bike", "boy"},
		{"the girls' team", "girls"},
		{"CHILDREN playing football", "children"},
		{"A baby-sitter with a stroller", "baby"},
		{"A toddler on a swing", "toddler"},
		{"teenagers skateboarding", "teenagers"},
		{"schoolboy in uniform", "schoolboy"},
		{"kids, dogs and a ball", "kids"},
		{"Мальчик играет с собакой", "мальчик"},
		{"Дети на пляже", "дети"},
		// Traps: not about children.
		{"a bowl of kidney beans", ""},
		{"a goat kid in the grass", ""},
		{"kid gloves on a table", ""},
		{"a baby blue car", ""},
		{"a man and his girlfriend", ""},
		{"cowgirl riding a horse", ""},
		{"A black dog and a spotted dog are fighting", ""},
		{"", ""},
		{"   \t\n", ""},
		// A trap phrase does not hide a real child word elsewhere.
		{"a goat kid and a boy", "boy"},
	} {
		blocked, word := Blocked(tc.query)
		if blocked != (tc.word != "") || word != tc.word {
			t.Errorf("Blocked(%q) = %v, %q; want word %q", tc.query, blocked, word, tc.word)
		}
	}
}
