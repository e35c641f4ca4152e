"""Two apps and no 'app' attribute: discovery must ask which one."""

from erlen import Erlen

first = Erlen("cliapp_multiple_first")
second = Erlen("cliapp_multiple_second")
