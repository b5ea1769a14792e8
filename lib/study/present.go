package study

import (
	"cmp"
	"fmt"
	"html"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/gallery"
	"github.com/withsense/withsense/lib/imageenc"
	"github.com/withsense/withsense/lib/results"
	"github.com/withsense/withsense/lib/search"
)

// FirstCaptions maps each dataset photo's file name to its first Flickr8k caption (test
// photos: their first test query), to label search results.
func FirstCaptions(c *dataset.Course) map[string]string {
	out := map[string]string{}
	if caps, err := dataset.Flickr8kSplit(dataset.Flickr8kTest); err == nil {
		for _, cp := range caps {
			if _, ok := out[cp.Image]; !ok {
				out[cp.Image] = cp.Text
			}
		}
	}
	for _, q := range c.TestQueries {
		if _, ok := out[q.Image]; !ok {
			out[q.Image] = q.Text
		}
	}
	return out
}

// AnswerHTML renders a search answer: the query, then the photos with rank, score and
// caption, or the content filter's notice.
func AnswerHTML(ans search.Answer, captions map[string]string) string {
	head := fmt.Sprintf(`<p style="font-family:sans-serif"><b>%s</b> · %s`, html.EscapeString(ans.Query), html.EscapeString(ans.Scorer))
	if ans.Blocked {
		return head + fmt.Sprintf(`</p><p style="font-family:sans-serif;padding:12px;border:1px solid #c33;color:#c33;border-radius:6px">%s</p>`,
			html.EscapeString(ans.Notice))
	}
	if ans.Hidden > 0 {
		head += fmt.Sprintf(" · %d photo(s) hidden by the NSFW guard", ans.Hidden)
	}
	var items []gallery.Item
	for _, r := range ans.Results {
		items = append(items, gallery.Item{Path: r.Path, Title: fmt.Sprintf("#%d · score %.3f", r.Rank, r.Score),
			Lines: []string{captions[filepath.Base(r.Path)]}})
	}
	cols := min(max(len(items), 1), 5)
	return head + "</p>" + gallery.HTML(items, cols)
}

// TestRanksFile is the per-query ranks' file under results/.
const TestRanksFile = "test_ranks.csv"

// WriteRetrieval records the retrieval report in results/: the "retrieval" section of
// metrics.json, the final evaluation's rank of the relevant photo for every test query
// (default variant, with the chosen two-tower: the seeds' ensemble or seed 0's model; 0:
// not returned), and the two-tower's out-of-fold
// scores added to the out-of-fold predictions.
func WriteRetrieval(in *Inputs, r *RetrievalReport) error {
	test := r.Test
	test.Ranks, test.Blocked = nil, nil // in TestRanksFile
	if err := results.Update("retrieval", map[string]any{
		"provenance": results.Here(r.Encoders[0], r.Encoders[1]),
		"settings":   in.Run,
		"protocol": "choices on validation (valid_photos held-out training photos, their Flickr8k captions), among them " +
			"the two-tower's encoders (encoder_trials: one model each; encoder_runoff: the two best trained with every " +
			"validation seed, the higher mean MRR of one model wins), " +
			"whether the two-tower score is the mean cosine of every seed's model (ensemble_validation: one model, mean ± sd " +
			"over the validation seeds, against their ensemble, ± jackknife; ensemble: the choice) and the β of the " +
			"two-tower's hubness correction (hubness_trials; hubness_scale: the choice, 0 = plain cosines); " +
			"the test set (500 queries, 100 photos, one relevant photo per query) used once, by the final evaluation " +
			"through search.Searcher, for every seed of the final two-tower alone (test.allowed, test.all: mean ± sd) and, " +
			"when the ensemble is chosen, for the ensemble of every seed (test.ensemble: ± jackknife, leave one seed out); " +
			"ranks pessimistic on ties",
		"valid_photos":          r.ValidPhotos,
		"valid_queries":         r.ValidQueries,
		"encoder_trials":        r.Trials,
		"encoder_runoff":        r.Runoff,
		"two_tower_encoders":    r.Encoders,
		"two_tower_settings":    r.Settings,
		"ensemble_validation":   r.EnsembleValid,
		"ensemble":              r.Ensemble,
		"hubness_trials":        r.HubnessTrials,
		"hubness_scale":         r.HubnessScale,
		"validation_variants":   r.Validation,
		"default":               r.Default,
		"label_weight":          r.LabelWeight,
		"skipped_variants":      r.Skipped,
		"chosen_on":             r.ChosenOn,
		"mlp_encoders":          r.MLPEncoders,
		"test":                  test,
		"blocked_queries":       count(r.Test.Blocked),
		"two_tower_correlation": r.TwoTowerCorr,
		"blend_correlation":     r.BlendCorr,
	}); err != nil {
		return err
	}
	rows := make([][]string, len(in.Course.TestQueries))
	for i, q := range in.Course.TestQueries {
		rows[i] = []string{q.QueryID, q.Image, strconv.Itoa(r.Test.Ranks[i]), strconv.FormatBool(r.Test.Blocked[i])}
	}
	if err := results.WriteCSV(TestRanksFile, []string{"query_id", "image", "rank", "blocked"}, rows); err != nil {
		return err
	}
	models, err := Models(in)
	if err != nil {
		return err
	}
	oof := map[string][]float32{search.VariantTwoTower: r.OOFTwoTower, search.VariantBlend: r.OOFBlend}
	for k, v := range models.OOF {
		oof[k] = v
	}
	return WriteOOF(in, oof)
}

func count(b []bool) int {
	n := 0
	for _, x := range b {
		if x {
			n++
		}
	}
	return n
}

// DemoQueries are the descriptions notebook 04 searches for.
var DemoQueries = []string{"two dogs running through shallow water", "a man riding a bike on a mountain trail",
	"people sitting at a table in a restaurant", "a surfer riding a big wave"}

// FilterExamples are queries that show where the content filter draws its line.
var FilterExamples = []string{"a little girl in a pink dress", "Two boys are squirting water guns", "a bowl of kidney beans", "a goat kid in the grass"}

// ShowSearch runs the search and renders its answer (or its error, as a person sees it).
func ShowSearch(s *search.Searcher, query string, k int, captions map[string]string) string {
	ans, err := s.Search(query, k)
	if err != nil {
		return "<p><b>Error:</b> " + html.EscapeString(err.Error()) + "</p>"
	}
	return AnswerHTML(ans, captions)
}

// FilterSummary says how many test queries the filter blocks and what it does with the
// examples.
func FilterSummary(r *RetrievalReport) string {
	blocked, total := BlockedCount(r)
	var b strings.Builder
	fmt.Fprintf(&b, "**%d** of %d test queries (%.0f %%) are blocked.\n\n", blocked, total, 100*float64(blocked)/float64(max(total, 1)))
	for _, q := range FilterExamples {
		isBlocked, word := search.Blocked(q)
		fmt.Fprintf(&b, "* *%s* → blocked: **%v** %s\n", q, isBlocked, word)
	}
	return b.String()
}

// GuardGallery says what the NSFW guard does on the photos and shows those the head scores
// highest for Porn or Hentai, with their scores (a photo the guard hides is greyed out).
func GuardGallery(photos []string, captions map[string]string, n int) (string, error) {
	nsfw, err := imageenc.NSFWFiles(photos)
	if err != nil {
		return "", err
	}
	hidden := 0
	for _, s := range nsfw {
		if search.Guarded(s) {
			hidden++
		}
	}
	var items []gallery.Item
	for _, i := range imageenc.MostLikely(nsfw, 3, n) {
		items = append(items, gallery.Item{Path: photos[i], Muted: search.Guarded(nsfw[i]),
			Title: fmt.Sprintf("Porn %.3f · Hentai %.3f", nsfw[i][3], nsfw[i][1]), Lines: []string{captions[filepath.Base(photos[i])]}})
	}
	head := fmt.Sprintf(`<p style="font-family:sans-serif">At threshold %.2f (Porn or Hentai) the guard hides <b>%d</b> of %d photos ("Sexy" alone never hides a photo). Galleries are stricter than the search: they blur any photo with Porn, Hentai or Sexy above %.2f. The %d photos the head scores highest for "Porn":</p>`,
		search.GuardThreshold, hidden, len(photos), gallery.FlagThreshold, len(items))
	return head + gallery.HTML(items, 4), nil
}

// HubGallery shows the hubness correction at work on the search's photos: the n photos it
// lowers most (those closest to the two-tower's training captions in general, which would
// otherwise come first for vague queries) and the n it lowers least, with their offsets.
func HubGallery(s *search.Searcher, captions map[string]string, n int) string {
	off := search.Offsets(s.Scorer)
	if off == nil {
		return `<p style="font-family:sans-serif">The search scores plain cosines: validation chose no hubness correction (β 0).</p>`
	}
	order := make([]int, len(off))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(off[b], off[a]) })
	n = min(n, len(order)/2)
	items := func(idx []int) []gallery.Item {
		var out []gallery.Item
		for _, i := range idx {
			out = append(out, gallery.Item{Path: s.Paths[i], Title: fmt.Sprintf("offset %.3f", off[i]),
				Lines: []string{captions[filepath.Base(s.Paths[i])]}})
		}
		return out
	}
	lo, hi := slices.Min(off), slices.Max(off)
	return fmt.Sprintf(`<p style="font-family:sans-serif">Offsets over the %d photos run from %.3f to %.3f. The %d photos the correction lowers most (hubs: close to many of the training captions):</p>`,
		len(off), lo, hi, n) + gallery.HTML(items(order[:n]), n) +
		fmt.Sprintf(`<p style="font-family:sans-serif">The %d it lowers least (close to few captions):</p>`, n) +
		gallery.HTML(items(order[len(order)-n:]), n)
}
