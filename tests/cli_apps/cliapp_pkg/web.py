"""An app in a package module, found by path or dotted name."""

from erlen import Erlen

app = Erlen("cliapp_pkg.web")
