package notebook

import (
	"fmt"
	"html"
	"os"
	"time"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/comms"
	"github.com/janpfeifer/gonb/gonbui/dom"
	"github.com/janpfeifer/gonb/gonbui/widgets"
)

// HeadlessEnv is set by `withsense notebook` (behind `make report` and `make test`):
// there is no browser to interact with, so interactive cells show their default state,
// which is what the exported HTML keeps, and return.
const HeadlessEnv = "WITH_SENSE_HEADLESS"

// Headless reports whether the notebook runs without a reader (see HeadlessEnv).
func Headless() bool { return os.Getenv(HeadlessEnv) != "" || !gonbui.IsNotebook }

// InteractiveTimeout bounds how long an interactive cell listens before it settles on
// its last state (the reader can also press its Done button).
var InteractiveTimeout = 15 * time.Minute

// SearchBox shows render(query, k) and, where a reader is there, a text box for the query
// and a slider for k that re-render it as they change, until the Done button or
// InteractiveTimeout. The last state stays in the notebook's output.
func SearchBox(query string, k, maxK int, render func(query string, k int) string) {
	if Headless() {
		HTML(render(query, k))
		return
	}
	inputID := "query_" + gonbui.UniqueID()
	address := "/withsense/" + inputID
	HTML(fmt.Sprintf(`<div style="font-family:sans-serif">Query: <input type="text" id="%s" value="%s" size="60"> (press Enter) · number of photos:</div>`,
		inputID, html.EscapeString(query)))
	queries := comms.Listen[string](address)
	defer queries.Close()
	dom.TransientJavascript(fmt.Sprintf(`(() => {
	const comm = globalThis?.gonb_comm;
	const el = document.getElementById(%q);
	if (!comm || !el) { return; }
	const v = comm.newSyncedVariable(%q, el.value);
	el.addEventListener("change", () => { el.setAttribute("value", el.value); v.set(el.value); });
})();`, inputID, address))
	slider := widgets.Slider(1, maxK, k).Done()
	ks := slider.Listen()
	defer ks.Close()
	done := widgets.Button("Done").Done().Listen()
	defer done.Close()

	out := "search_results_" + gonbui.UniqueID()
	gonbui.UpdateHTML(out, answer(render(query, k)))
	timeout := time.After(InteractiveTimeout)
	for {
		select {
		case q := <-queries.C:
			query = q
		case v := <-ks.C:
			k = v
		case <-done.C:
			gonbui.UpdateHTML(out, "")
			HTML(render(query, k))
			return
		case <-timeout:
			gonbui.UpdateHTML(out, "")
			HTML(render(query, k))
			return
		}
		gonbui.UpdateHTML(out, answer(render(query, k)))
	}
}

// AnswerClass is the class of the element that holds SearchBox's live answer (the
// browser check finds it by it).
const AnswerClass = "withsense-answer"

func answer(html string) string { return `<div class="` + AnswerClass + `">` + html + `</div>` }
