"""Every program a process test runs is installed by `scripts/deps.sh test`, so the test
command passes on a fresh Debian machine: programs are taken through rftest.program(),
whose table names each one's package, and no test starts a program by a bare name."""
import glob
import os
import re
import unittest

import rftest

HERE = os.path.dirname(os.path.abspath(__file__))
# A subprocess call whose argv starts with a literal program name (run, Popen and friends).
BARE = re.compile(r"""(?:subprocess\.(?:run|Popen|call|check_call|check_output)|\.Popen)\(\s*\[\s*["']([\w.+-]+)["']""")


class TestPrograms(unittest.TestCase):
    def test_every_program_has_its_package_in_deps_sh(self):
        packages = rftest.deps_test_packages()
        missing = {name: pkg for name, pkg in rftest.PROGRAMS.items() if pkg not in packages}
        self.assertEqual(missing, {}, "scripts/deps.sh test must install these packages")

    def test_no_test_runs_a_program_by_a_bare_name(self):
        found = []
        for path in sorted(glob.glob(os.path.join(HERE, "*.py"))):
            with open(path) as f:
                for lineno, line in enumerate(f, 1):
                    for m in BARE.finditer(line):
                        found.append(f"{os.path.basename(path)}:{lineno}: {m.group(1)}")
        self.assertEqual(found, [], "run these through rftest.program(name), which checks scripts/deps.sh")

    def test_program_fails_naming_deps_sh(self):
        with self.assertRaisesRegex(AssertionError, r"not in rftest\.PROGRAMS.*scripts/deps\.sh"):
            rftest.program("a-program-no-test-should-run")


if __name__ == "__main__":
    rftest.main()
