# A typical pyinotify script: report what arrives in a directory tree.
import sys
import pyinotify


class EventHandler(pyinotify.ProcessEvent):
    def my_init(self, out):
        self.out = out

    def process_IN_CREATE(self, event):
        kind = 'dir' if event.dir else 'file'
        self.out.write('created %s %s\n' % (kind, event.pathname))

    def process_IN_CLOSE_WRITE(self, event):
        self.out.write('written %s\n' % event.pathname)

    def process_IN_MOVED_TO(self, event):
        src = getattr(event, 'src_pathname', None)
        self.out.write('moved %s -> %s\n' % (src, event.pathname))

    def process_IN_DELETE(self, event):
        self.out.write('deleted %s\n' % event.pathname)


wm = pyinotify.WatchManager()
mask = pyinotify.IN_CREATE | pyinotify.IN_CLOSE_WRITE | pyinotify.IN_MOVED_TO | pyinotify.IN_DELETE
notifier = pyinotify.Notifier(wm, EventHandler(out=sys.stdout))
wm.add_watch(sys.argv[1], mask, rec=True, auto_add=True)
notifier.loop()
