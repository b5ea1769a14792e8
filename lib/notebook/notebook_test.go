package notebook

import (
	"encoding/gob"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/janpfeifer/gonb/gonbui/protocol"
)

const fakeKernelChild = "WITH_SENSE_FAKE_GONB_CHILD"

// TestDisplayWaitsForKernel runs Markdown in a child process wired to a fake GoNB kernel
// (the two named pipes GoNB gives a cell's program): the markdown arrives, and Markdown
// returns only after the kernel acknowledges it, so a cell that ends right after a display
// cannot lose it.
func TestDisplayWaitsForKernel(t *testing.T) {
	if os.Getenv(fakeKernelChild) != "" {
		Markdown("total %d", 42)
		os.Stdout.WriteString("returned\n")
		return
	}
	dir := t.TempDir()
	toKernel, fromKernel := filepath.Join(dir, "to-kernel"), filepath.Join(dir, "from-kernel")
	for _, p := range []string{toKernel, fromKernel} {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	child := exec.Command(os.Args[0], "-test.run=^TestDisplayWaitsForKernel$")
	child.Env = append(os.Environ(), fakeKernelChild+"=1",
		protocol.GONB_PIPE_ENV+"="+toKernel, protocol.GONB_PIPE_BACK_ENV+"="+fromKernel)
	out, err := os.Create(filepath.Join(dir, "out")) // a file: the child writes it directly
	if err != nil {
		t.Fatal(err)
	}
	child.Stdout, child.Stderr = out, out
	printed := func() string { b, _ := os.ReadFile(out.Name()); return string(b) }
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	r, err := os.Open(toKernel) // as GoNB: the program writes here...
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w, err := os.OpenFile(fromKernel, os.O_WRONLY, 0) // ...and reads the acknowledgements here
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	dec := gob.NewDecoder(r)
	var shown protocol.DisplayData
	if err := dec.Decode(&shown); err != nil {
		t.Fatal(err)
	}
	if md := shown.Data[protocol.MIMETextMarkdown]; md != "total 42" {
		t.Fatalf("first message %+v, want the markdown \"total 42\"", shown.Data)
	}
	var sync protocol.DisplayData
	if err := dec.Decode(&sync); err != nil {
		t.Fatal(err)
	}
	req, ok := sync.Data[protocol.MIMECommValue].(protocol.CommValue)
	if !ok || req.Address != protocol.GonbuiSyncAddress {
		t.Fatalf("second message %+v, want a sync request", sync.Data)
	}
	time.Sleep(200 * time.Millisecond) // unacknowledged: Markdown must still be waiting
	if strings.Contains(printed(), "returned") {
		t.Fatal("Markdown returned before the kernel acknowledged the display")
	}
	if err := gob.NewEncoder(w).Encode(&protocol.CommValue{Address: protocol.GonbuiSyncAckAddress, Value: req.Value}); err != nil {
		t.Fatal(err)
	}
	if err := child.Wait(); err != nil || !strings.Contains(printed(), "returned") {
		t.Fatalf("child: %v\n%s", err, printed())
	}
}
