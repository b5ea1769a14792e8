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
		// Inflected forms through the stemmer, English and Russian.
		{"babies asleep in a crib", "babies"},
		{"two toddlers' toys", "toddlers"},
		{"kiddies at the fair", "kiddies"},
		{"фото с девочкой", "девочкой"},
		{"подарки детям", "детям"},
		{"ребёнку пять", "ребенку"},
		{"младенцы спят", "младенцы"},
		{"в детском саду", "детском"},
		{"подростки на скейтах", "подростки"},
		// Phrases that mean children without a listed word.
		{"a five-year-old on a bike", "five year old"},
		{"someone 7 years old running", "7 years old"},
		{"people under 12 years", "under 12 years"},
		{"a six-month-old asleep", "six month old"},
		{"a first grader with a backpack", "first grader"},
		{"pupils in 3rd grade", "3rd grade"},
		{"little ones at play", "little ones"},
		{"her young son fishing", "young son"},
		{"middle school students at lunch", "middle school students"},
		{"a high schooler at a locker", "high schooler"},
		{"kindergarten class on a trip", "kindergarten"},
		// Traps: not about children.
		{"a bowl of kidney beans", ""},
		{"a goat kid in the grass", ""},
		{"kid gloves on a table", ""},
		{"a baby blue car", ""},
		{"a man and his girlfriend", ""},
		{"cowgirl riding a horse", ""},
		{"A black dog and a spotted dog are fighting", ""},
		{"are you kidding me", ""},
		{"a man 30 years old", ""},
		{"a twenty-year-old woman", ""},
		{"a big dog and a little one", ""},
		{"goats with kids", "kids"}, // only the adjacent phrase is a trap
		{"детектив на улице", ""},
		{"собака в воде", ""},
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
