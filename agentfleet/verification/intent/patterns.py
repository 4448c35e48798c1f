"""The phrasings that name what a task makes, moves, changes or removes.

Each pattern is anchored on a verb a person uses for a file chore, and a path
in the shape people type it. Conservative by design: see the package docstring.
"""

from __future__ import annotations

import re

# Paths as people type them: `notes/a.md`, `inbox/`, `poem.txt`. An extension
# starts with a letter, so "4.5" and "v1.2" are not files.
# Names people give dotfiles: ".gitignore", ".env.local". "a .csv", "every .bak file"
# and "the .DS_Store files" name kinds of file, not one.
_DOTFILE = (
    r"\.(?!(?:csv|txt|json|md|pdf|html?|xml|ya?ml|py|js|ts|jpe?g|png|gif|webp|heic|tiff?|svg"
    r"|docx?|xlsx?|pptx?|zip|tar|gz|log|bak|tmp|old|orig|mov|mp[34]|wav|sh|ini|cfg|conf)\b)"
    r"[A-Za-z](?:[\w.-]*[\w-])?(?!\s+files\b)"
)
# Files people name without an extension, spelled as they are spelled: "the license"
# is prose, "LICENSE" the file.
_BARE_NAMES = (
    "LICEN[CS]E COPYING NOTICE AUTHORS CODEOWNERS Makefile Dockerfile Containerfile Procfile"
    " Gemfile Rakefile Jenkinsfile Vagrantfile Brewfile Justfile"
).split()
_BARE_FILE = rf"(?-i:{'|'.join(_BARE_NAMES)})(?![\w.-])"
_FILE = rf"(?:[\w.-]+/)*(?:[\w-][\w.-]*\.[A-Za-z][A-Za-z0-9]{{0,7}}|{_DOTFILE}|{_BARE_FILE})"
# A quoted name with spaces: "my notes.txt".
_SPACED = r"(?<=[`'\"])[^`'\"\n]*?\s[^`'\"\n]*?\.[A-Za-z][A-Za-z0-9]{0,7}(?=[`'\"])"
_DIR = r"(?:[\w.-]+/)+"
# A name never ends in ".": "a directory named archive." ends a sentence.
_NAME = r"\w(?:[\w.-]*[\w-])?"
_Q = r"[`'\"]?"
_AND = r"\s*(?:,|and|,\s*and)\s+"


def _listed(item: str) -> str:
    """One `item`, or several: "a, b and c"."""
    return rf"{item}(?:{_AND}{item})*"


def _lands_in(preps: str) -> str:
    """A verb's clause up to the file its work lands in; the reader weighs the gap and prep."""
    return rf"(?P<gap>[^;\n]*?){_NOT_POINTING}\b(?P<prep>{preps})\s+{_NAMED_FILE}"


# A link is not a path: its tail ("example.com/a.txt") would read as one.
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+|\bwww\.\S+", re.I)
# A file's name standing on its own, not inside another word or path.
_A_FILE = rf"(?<![\w.-]){_FILE}(?![\w/])"
A_FILE = re.compile(rf"{_Q}{_FILE}{_Q}")
FILE_PATH = rf"{_Q}(?P<file>{_FILE}|{_SPACED}){_Q}(?![\w/])"
ANY_PATH = rf"{_Q}(?P<path>{_FILE}|{_DIR}[\w.-]*|{_NAME}/?){_Q}(?![\w/])"

_DIR_WORD = r"(?:folder|directory|dir|subfolder|subdirectory)s?"
# A folder as a path ("logs/"), not the start of a file's name; or, with a word of
# folders around it, a bare name with its slash ("logs/").
_DIR_AT = rf"{_Q}(?P<dir>{_DIR}){_Q}(?!\w|\.\w)"
_DIR_NAMED = rf"{_Q}(?P<dir>{_DIR}|{_NAME}/){_Q}"
DIR_WORD = re.compile(_DIR_WORD, re.I)
# "into the right one", "into the empty folders": which one, not a name.
_NOT_WHICH = (
    r"(?!(?:right|correct|proper|appropriate|matching|corresponding|relevant|same|other|new"
    r"|empty|old|unused|extra|respective|their|its|each|every|all|these|those|one)\b)"
)
# "... and put a README.md in each", "... in every subfolder of pkg/": in every folder
# meant, not at the root.
_NOT_EACH = (
    r"(?!\s+(?:in|inside|into|under|within)\s+(?:the\s+)?(?:each|every|them|it|there|all|both)\b)"
)
# "a link to expenses.csv", "a reference to a.md": the file pointed at is not where work lands.
_NOT_POINTING = r"(?<!\blink )(?<!\blinks )(?<!\breference )(?<!\bpointer )(?<!\bpath )"
# "... in docs/", "... inside the logs folder": where a file named just before goes.
_WHERE = (
    r"(?:\s+(?:inside|in|under|within)\s+(?:the\s+)?"
    rf"(?:{_Q}(?P<where>{_DIR}){_Q}(?!\w|\.\w)"
    rf"|{_NOT_WHICH}{_Q}(?P<wname>{_NAME}){_Q}\s+{_DIR_WORD}\b))?"
)
_FILLER = r"(?:(?:a|an|the|new|empty|blank|separate|single|one|text)\s+)*"
_CALLED = r"(?:(?:called|named|titled)\s+)?"
# "... and save the result as export.csv": the work lands in another file, so the
# one it is read from is not changed in place.
_ELSEWHERE = rf"(?![^;\n]*\b(?:into|as|to)\s+{_FILLER}(?:file\s+)?{_Q}{_FILE})"
# Where the work goes, as people name it: "a new file called notes.md".
_NAMED_FILE = rf"{_FILLER}(?:file\s+)?{_CALLED}{FILE_PATH}"
# "... into notes.md", "... as export.csv": the result lands in that file.
_TO_FILE = rf"\b(?:into|{_NOT_POINTING}to|as)\s+{_NAMED_FILE}"


WRITE = re.compile(
    r"\b(?:write|save|put|store|dump|record|output|type|draft|compose|jot(?:\s+down)?"
    r"|note\s+down)\b" + _lands_in("into|to|in|as|at|inside"),
    re.I,
)
# "Log today's tasks in journal.md", "Note the meeting time in calendar.txt": written
# down there. Only as a clause's verb: "the log in app.log" is a noun.
NOTE_IN = re.compile(
    r"(?:^|(?<=[.;:!]\s)|(?<=\band\s)|(?<=\bthen\s)|(?<=\bplease\s))(?:log|note|enter)\b"
    + _lands_in("in|into|to"),
    re.I | re.M,
)
PRODUCE = re.compile(
    r"\b(?:summari[sz]e|index|list|catalog(?:ue)?|compile|collect|merge|combine|concatenate"
    r"|extract|export|generate|produce|draft|compose|copy|convert|compress|zip|archive|render"
    r"|translate|split|format|transcribe|tabulate)\b"
    rf"[^;\n]*?{_TO_FILE}",
    re.I,
)
# Whatever the verb, "... into notes.html" names where the result goes; only
# idioms where "into" means "about" are left out.
INTO_FILE = re.compile(
    rf"(?<!\blook )(?<!\bdig )(?<!\bdelve )(?<!\bcheck )(?<!\bgo )\binto\s+{_NAMED_FILE}",
    re.I,
)
# "folders a, b and c" continues a list; "folder x and move ..." does not.
_NOT_VERB = (
    r"(?!(?:move|copy|put|write|then|create|make|rename|delete|remove|add|sort|save|also"
    r"|append|list|summari[sz]e|index|edit|update|place|inside|in|into|with|for|and|or|per"
    r"|each|every|by)\b)"
)
_DIR_NAME = rf"{_Q}{_NOT_VERB}{_NAME}(?:/{_NAME})*/?{_Q}"
_COUNT = r"(?:(?:two|three|four|five|six|seven|eight|nine|ten|\d{1,2})\s+)?"
CREATE_DIR = re.compile(
    rf"\b(?:create|make|add|set\s+up|mkdir)\s+{_FILLER}{_COUNT}{_DIR_WORD}"
    rf"(?:\s+(?:structure|tree|hierarchy|path))?\s*:?\s+{_CALLED}"
    rf"(?P<names>{_listed(_DIR_NAME)})",
    re.I,
)
NAMED_DIR = re.compile(
    rf"\b(?:create|make|add|set\s+up)\s+(?:an?|the)\s+(?:(?:new|empty|blank|separate)\s+)*{_Q}"
    rf"(?!(?:new|empty|blank|separate|single|sub|few|couple)\b)(?P<name>{_NAME}){_Q}"
    rf"\s+{_DIR_WORD}\b",
    re.I,
)
# "mkdir -p a/b", "Make backup/ and copy ... there": a path that ends in "/" is a folder.
MKDIR = re.compile(
    rf"\b(?:mkdir\s+(?:-p\s+)?{_Q}(?P<name>{_NAME}(?:/[\w.-]+)*/?)"
    rf"|(?:create|make)\s+(?:the\s+)?{_Q}(?P<path>{_DIR})(?!\w|\.\w)){_Q}",
    re.I,
)
# "the file a.txt", "folder logs/": the path a verb acts on, with the words before it.
_THE_ONE = r"(?:the\s+)?(?:file\s+|folder\s+|directory\s+)?"
_SRC = rf"{_Q}(?:{_FILE}|{_DIR}[\w.-]*){_Q}"
MOVE = re.compile(
    rf"\b(?P<verb>move|mv|copy|cp|transfer|back\s*up)\s+{_THE_ONE}"
    rf"{_Q}(?P<src>{_listed(_SRC)}|it|them){_Q}\s+"
    rf"(?:(?:in)?to\s+(?:the\s+|an?\s+)?(?:{_DIR_WORD}\s+)?{_CALLED}{_NOT_WHICH}"
    rf"{_Q}(?P<dst>{_FILE}|{_DIR}[\w.-]*|it|there|{_NAME}/?){_Q}(?P<dirword>\s+{_DIR_WORD}\b)?"
    r"|(?P<there>there|here))(?![\w/])",
    re.I,
)
RENAME = re.compile(
    rf"\brename\s+(?:the\s+)?(?:file\s+|folder\s+)?{_Q}(?P<src>{_FILE}|{_DIR}[\w.-]*){_Q}\s+"
    rf"(?:to|as|into)\s+{_Q}(?P<dst>{_FILE}|{_NAME}/?){_Q}(?![\w/])",
    re.I,
)
_DELETE_VERB = (
    r"(?:delete|remove|rm|erase|trash|discard|toss|nuke|get\s+rid\s+of|throw\s+(?:away|out))"
)
DELETE = re.compile(rf"\b{_DELETE_VERB}\s+{_THE_ONE}(?P<paths>{_listed(_SRC)})(?![\w/])", re.I)
FROM_DIR = re.compile(rf"\s+(?:from|in|inside|under)\s+(?:the\s+)?{_DIR_AT}", re.I)
# "i need a new directory named drafts", "I'd like a file named plan.md": no verb of
# making, the wish is enough.
WANT = re.compile(
    rf"\b(?:need|want|(?:would|'d)\s+like|give\s+me)\s+{_FILLER}(?:[\w-]+\s+)?"
    rf"(?P<kind>file|script|program|{_DIR_WORD})\s+"
    rf"(?:called|named)\s+{_Q}(?P<name>{_NAME}){_Q}",
    re.I,
)
# "a file called .gitkeep inside logs/": the name, then where it goes.
CALLED_IN = re.compile(
    rf"\b(?P<kind>file|folder|directory)\s+(?:called|named)\s+{_Q}(?P<name>\.?[\w][\w.-]*){_Q}"
    rf"\s+(?:inside|in|under|within)\s+(?:the\s+)?{_Q}(?P<dir>{_DIR}|{_NAME}/?){_Q}(?![\w/])",
    re.I,
)
# "into folders by type": how to sort, not a folder's name.
_NOT_HOW = rf"(?!(?:by|per|for|according|based|with|of|named|after|an?|the|{_DIR_WORD})\b)"
# Kinds of file people name by their format or content: "every pdf", "the screenshots".
_KINDS = (
    r"(?:pdf|csv|txt|jpe?g|png|gif|mp3|mp4|docx?|xlsx?|pptx?|svg|zip|json|html?)s?"
    r"|pictures?|pics|screenshots?|scans?|videos?|songs|spreadsheets?|invoices?|receipts?"
)
# "Move every .log file in the top folder into logs/": the sources are a set,
# the destination is named, and something must land in it.
MOVE_MANY = re.compile(
    r"\b(?:move|copy|transfer|put|place|archive)\s+(?:(?:all|every|each|the)\b[^;\n]*?"
    rf"\b(?:files?|documents?|papers|photos|images|reports|logs|{_KINDS})\b|everything\b"
    r"|\*\.\w+)"
    r"[^;\n]*?\b(?:in)?to\s+"
    rf"(?:an?\s+(?:new\s+)?|the\s+)?(?:{_DIR_WORD}\s+)?{_CALLED}{_Q}{_NOT_HOW}{_NOT_WHICH}"
    # "... into urgent.txt" names a file, not a folder.
    rf"(?!{_FILE}{_Q}(?![\w/]))(?P<dir>{_DIR}|{_NAME}/?){_Q}(?![\w/]|\.\w)",
    re.I,
)
REMOVE_MANY = re.compile(
    r"\b(?:delete|remove|erase|trash|clean\s+out|rename)\s+"
    r"(?:(?:all|every|each|the)\b[^;\n]*?|every(?:thing|\s+one)\s+|anything\s+)"
    rf"\b(?:in|from|under|inside)\s+(?:the\s+)?{_DIR_NAMED}",
    re.I,
)
# "Add Carol to the guest list in guests.txt": the file is changed, not made.
ADD_TO = re.compile(
    # "the add function" names a function: the verb has no article.
    r"(?<!\bthe )(?<!\ban )(?<!\ba )\b(?:add|append|insert)\b[^;\n]*?"
    rf"\b(?:{_NOT_POINTING}to|into|in)\b"
    rf"[^;\n]{{0,40}}?{FILE_PATH}",
    re.I,
)
# "Add type hints to the area function in geometry.py": the part of the code (or the
# line) the words go into is rewritten, not added to.
INTO_CODE = re.compile(
    r"\bto\s+(?:the\s+|each\s+|every\s+|all\s+(?:the\s+)?)?(?:[\w.()`'\"-]+\s+){0,2}?"
    r"(?:function|method|class|constructor|signature|def|parameters?|arguments?|columns?|fields?"
    r"|struct|interface|endpoint|route|handler|decorator"
    # "Add src/ to the PYTHONPATH line in .env": that line is rewritten.
    r"|line|entry|setting|variable|key|value|array)s?\b"
    # The part itself, not a word naming something else ("the argument parser").
    r"(?=\s+(?:in|of|inside|within|from)\b|\s*[,.;]|\s*$)",
    re.I,
)
ADD_TO_IT = re.compile(r"\b(?:append|add)\b[^;\n]*?\bto\s+(?:it|that\s+file)\b", re.I)
# "In config.ini, change the port from 8080 to 9090".
IN_FILE_EDIT = re.compile(
    rf"^\s*in\s+{FILE_PATH}\s*,?\s+(?:change|replace|set|update|fix|edit|correct|swap)\b",
    re.I | re.M,
)
# "the gist of incident.log in incident-summary.txt".
GIST = re.compile(
    # The word, not a file named for it ("summary.md").
    r"\b(?:gist|summary|overview|digest|synopsis|recap|tl;?dr)\b(?![.-]\w)[^;\n]*?"
    rf"\b(?:in|into|{_NOT_POINTING}to|as)\s+{_NAMED_FILE}",
    re.I,
)
# "Append a line to notes.txt", "put a title at the top of a.md": changed at one
# end, not made. Only "append" and "add" may leave the end unsaid: "write hello to
# a.txt" makes a.txt.
APPEND = re.compile(
    r"\b(?:(?P<add>append|add|prepend)|insert|put|write|place)\b[^;\n]*?"
    rf"\b(?:{_NOT_POINTING}to|at|on|onto)\s+"
    r"(?:the\s+)?(?:(?:very\s+)?(?:end|top|bottom|start|beginning|head|foot|front)\s+of\s+"
    rf"(?:the\s+)?|(?(add)|(?!)))(?:file\s+)?{FILE_PATH}",
    re.I,
)
# "Fix the typo in readme.md", "replace foo with bar in a.txt": changed in place.
# "Update README.md to ...", "change 'color' to 'colour' throughout essay.md", "replace
# the contents of a.txt with hello".
EDIT = re.compile(
    r"(?:\b(?:replace|change|edit|fix|update|correct|rewrite|modify|swap|set|increase"
    r"|decrease|bump|reduce)\b[^;\n]*?"
    # "the extension of", "the name of" a file: renamed, not edited.
    r"(?:\b(?:in|throughout|across|within)|(?<!\bextension )(?<!\bname )\bof)\s+"
    r"|\b(?:edit|fix|update|rewrite|modify|overwrite|reformat|correct)\s+"
    r"|\b(?:replace|change|overwrite|update|rewrite|edit)\s+(?:the\s+|all\s+(?:of\s+)?(?:the\s+)?)?"
    r"(?:contents?|text|body)\s+of\s+)"
    rf"(?:the\s+)?(?:file\s+)?{FILE_PATH}{_ELSEWHERE}",
    re.I,
)
# "Delete the tmp folder (and everything in it)".
DELETE_DIR = re.compile(
    rf"\b{_DELETE_VERB}\s+(?:the\s+)?(?P<path>[\w.-]+)\s+(?:folder|directory)\b",
    re.I,
)
# "file" is a verb only where a clause starts: "file the papers in inbox/".
SORT = re.compile(
    r"(?:\b(?:sort|organi[sz]e|arrange|group|tidy(?:\s+up)?|flatten)"
    r"|(?:^|[;.,]\s*|\b(?:then|and)\s+)file)\b[^;\n]*?"
    rf"\b(?:in|inside|within|of|from|under)\s+(?:the\s+)?{_DIR_NAMED}",
    re.I,
)

# With no path named, only chores that act on files ask for a change: "write a
# haiku" is answered in text, "sort the files" is not.
FILE_CHORE = re.compile(
    r"\b(?:move|copy|rename|delete|remove|erase|trash|sort|organi[sz]e|arrange|tidy"
    r"|archive|clean\s+up|de-?dup(?:e|licate)|back\s*up|set\s+up|migrate|reorgani[sz]e"
    r"|restructure|flatten|refactor)\b(?:[^.;\n]|\.(?=\w)){0,40}?"
    r"\b(?:files?|folders?|director(?:y|ies)|documents?|docs|papers|photos|images|pictures"
    r"|notes|workspace|everything|them|it|project|skeleton|code|codebase|repository|repo"
    r"|modules?|assets|drive|each\s+one|downloads|desktop)\b"
    # "Add tests for utils.py": test code is written somewhere.
    r"|\b(?:write|add|create)\s+(?:some\s+|more\s+)?(?:unit\s+)?tests\b"
    r"|\b(?:write|save|create|make|add|put)\b[^.;\n]{0,30}?\b(?:an?|the|new|empty)\s+"
    r"(?:\w+\s+)?(?:file|folder|directory)\b"
    # "Make a README", "Add a .gitignore": files people name by their role.
    r"|\b(?:write|create|make|add)\s+(?:an?\s+|the\s+|new\s+)*"
    r"(?:README|Makefile|Dockerfile|LICENSE|CHANGELOG|\.[a-z]\w*)\b"
    # "Find all TODOs in src/ and list them in TODO.md".
    r"|\blist\s+(?:them|it|these|those)\s+(?:in|into|to)\s+"
    rf"{_Q}{_FILE}"
    # "Write a haiku and save it": saved, though not said where.
    r"|\bsave\s+(?:it|them|that|this)\b"
    # "Split big.txt into parts": a named file reworked into other files.
    r"|\b(?:split|merge|combine|join|concatenate|compress|zip|unzip|convert|encrypt|decrypt|move"
    r"|copy|rename)\s+"
    rf"(?:the\s+)?(?:file\s+)?{_Q}{_FILE}",
    re.I,
)
# What a file the work makes is to hold something: "Summarize notes.md into SUMMARY.md".
WANTS_CONTENT = re.compile(
    r"(?<!\.)\b(?:write|summari[sz]e|list|index|generate|convert|merge|combine|collect|extract|export"
    r"|translate|draft|compose|record|log|note|save|fill|document|describe|report|tabulate"
    r"|compile|gather|render|transcribe)\b",
    re.I,
)
EMPTY_OK = re.compile(
    r"\b(?:empty|blank|touch|placeholder|zero[- ]byte|stub|copy|move|rename|duplicate|back\s*up)\b"
    r"|\.(?:gitkeep|keep)\b",
    re.I,
)
# "Collect every line with TODO in it from the files in src/ into todos.txt", "Extract the
# lines containing ERROR from app.log into errors.txt": the lines themselves go there.
COLLECT_LINES = re.compile(
    r"\b(?:collect|gather|extract|pull|copy|save|put|write|find|grep|list)\s+(?:out\s+)?"
    r"(?:all\s+|every\s+|each\s+|any\s+)?(?:of\s+)?(?:the\s+)?lines?\s+(?:that\s+)?"
    r"(?:with|containing|contains?|mentioning|mentions?|including|includes?|matching)\s+"
    r"(?:the\s+word\s+)?(?:'(?P<q1>[^'\n]+)'|\"(?P<q2>[^\"\n]+)\"|(?P<word>[^\s'\"]+))"
    r"(?:\s+in\s+(?:it|them))?\s+(?:from|in|across)\s+(?:all\s+)?(?:the\s+)?(?:files?\s+in\s+)?"
    rf"{_Q}(?P<src>{_FILE}|{_DIR}){_Q}(?![\w/])[^;\n]*?\b(?:in)?to\s+{_FILLER}(?:file\s+)?"
    + FILE_PATH,
    re.I,
)
# "Delete all the .tmp files", "Move the pictures in inbox/ into photos/", "move each file
# from inbox into ...": every file of that kind leaves the folder (the whole workspace
# when none is named, for a delete).
_OF_KIND = (
    r"(?:\*?\.(?P<ext>[A-Za-z0-9]{1,8})\s+files?|(?P<ext2>pdf|csv|txt|jpe?g|png|gif|log|tmp|bak)"
    r"(?:s|\s+files?|(?<=\bevery\s(?:pdf|csv|txt|jpg|png|gif|log|tmp|bak))|(?<=\bevery\sjpeg))"
    r"|(?P<kind>pictures?|pics|photos?|images?|screenshots?)|(?P<any>files?))\b"
)
CLEAR_KIND = re.compile(
    r"\b(?P<verb>delete|remove|erase|trash|get\s+rid\s+of|move)\s+"
    r"(?:all|every|each|any)?\s*(?:of\s+)?(?:the\s+|my\s+)?"
    + _OF_KIND
    + r"(?:\s+(?:in|from|under|inside|out\s+of)\s+(?:the\s+|my\s+)?"
    r"(?!(?:the|a|an|my|our|workspace|top|root|current|same|this|that)\b)"
    rf"{_Q}(?P<dir>{_DIR}|{_NAME}/?){_Q}(?=\s|$|[.,;]))?",
    re.I,
)
# "... whose year is before 2024", "... older than a week": only some files of the kind.
WHICH_ONES = re.compile(
    r"(?:(?!\b(?:and|then)\b)[^;,.\n])*?\b(?:whose|that|which|where|with|without|older|newer"
    r"|before|after|except|but|larger"
    r"|smaller|bigger|named|called|containing|matching|dated|from\s+(?:before|after)|than|not)\b",
    re.I,
)
# "Copy all the files in config/ into backup/", "Make a backup copy of every file in
# config/ under config.bak/": each file of the one folder has its copy in the other.
COPY_ALL = re.compile(
    r"\b(?:copy|back\s*up|duplicate|mirror|(?:make|create)\s+(?:a\s+)?(?:backup\s+)?cop(?:y|ies)\s+of)"
    r"\s+(?:all|every|each)(?:thing)?\s+(?:of\s+)?(?:the\s+)?(?:files?\s+)?(?:in|from|under|inside)\s+"
    rf"(?:the\s+)?{_Q}(?P<src>{_DIR}){_Q}\s*,?\s+(?:(?:in)?to|under|in|inside)\s+(?:the\s+)?"
    rf"{_Q}(?P<dst>{_DIR}|{_NAME}/){_Q}",
    re.I,
)
# "Delete the empty files in tmp/", "Remove the empty folders inside build/": only those.
EMPTY_ONES = re.compile(
    r"\b(?:delete|remove|clean\s+up|get\s+rid\s+of|prune|drop)\s+(?:all\s+|every\s+|any\s+)?"
    r"(?:of\s+)?(?:the\s+)?empty\s+(?:files?|folders?|directories|dirs?|sub(?:folders?|directories))\b"
    rf"(?:\s+(?:in|from|under|inside|within)\s+(?:the\s+)?{_DIR_NAMED})?",
    re.I,
)
# "Flatten the nested folders in downloads/": no file stays below a subfolder of it.
FLATTEN = re.compile(
    r"\bflatten\s+(?:(?:all\s+)?(?:of\s+)?the\s+)?(?:nested\s+|sub)?(?:(?:folders?|directories|dirs"
    rf"|structure|tree|hierarchy)\s+(?:in|of|under|inside)\s+(?:the\s+)?)?{_DIR_NAMED}",
    re.I,
)
# "Rename every .jpeg in photos/ to .jpg": no file of the old kind stays there.
RENAME_KIND = re.compile(
    r"\b(?:rename|change)\s+(?:the\s+extension\s+of\s+)?(?:all|every|each)\s+(?:of\s+)?(?:the\s+)?"
    r"\.(?P<ext>[A-Za-z0-9]{1,8})\s*(?:files?\s+)?(?:in|under|inside)\s+(?:the\s+)?"
    rf"{_DIR_NAMED}\s+(?:to|into|as)\s+\.?[A-Za-z0-9]{{1,8}}\b",
    re.I,
)
# Work that reshapes a whole file: no line of it need survive as it was.
# "Dedupe names.txt": the lines that stay are the file's own, once each.
DEDUPE_VERB = r"(?:dedupe|de-?duplicate|uniq(?:ify)?)"
_RESHAPE_WORDS = (
    "rewrite rewrote refactor reformat format restructure reorgani[sz]e clean tidy sort convert"
    " translate summari[sz]e shorten simplify rephrase reword overwrite"
    f" {DEDUPE_VERB} capitali[sz]e lowercase uppercase wrap reflow indent number trim truncate"
    " empty clear whatever everything entire whole contents? redo regenerate proofread correct"
).split()
_FIX_STYLE = r"fix\s+(?:the\s+)?(?:grammar|spelling|formatting|indentation|style)"
RESHAPES = re.compile(rf"\b(?:{'|'.join(_RESHAPE_WORDS)}|{_FIX_STYLE})\b", re.I)
# A quote opens before a word and closes after one: the closing quote of 'a' and the
# opening one of 'b' in "'a' to x.txt and 'b'" do not enclose " to x.txt and ".
QUOTED = re.compile(
    r"(?<!\w)'(?=\S)[^'\n]*\s[^'\n]*(?<=\S)'(?!\w)"
    r"|(?<!\w)\"(?=\S)[^\"\n]*\s[^\"\n]*(?<=\S)\"(?!\w)|“[^”\n]*”"
)

# A few words saying what the file is ("a Python script", "a CSV file"), with no
# preposition among them: "a summary of notes.md" names a source, not an output.
_WHAT = (
    r"(?:(?!(?:of|from|about|on|for|with|in|into|to|at|by|based|using|that|which|sure)\b)"
    r"[\w-]+\s+){0,3}?"
)
# Right after a verb, quoted words are what to write ("Write 'see notes.txt' into a.txt").
_ONE_FILE = rf"{_Q}{_FILE}{_Q}"
_FILES = _listed(_ONE_FILE)
# "Create notes.md", "Write a Python script fizzbuzz.py", "Create three files: a.txt,
# b.txt and c.txt", "Create an empty file named .gitignore in logs/".
CREATE_FILE = re.compile(
    rf"\b(?:create|make|touch|start|write|save|generate|produce|draft|prepare)\s+{_FILLER}"
    rf"(?:{_COUNT}files?\s*:\s+)?{_WHAT}{_CALLED}(?P<names>{_FILES})(?![\w/]){_NOT_EACH}{_WHERE}",
    re.I,
)
# "Rename the variable cnt to count in app.py and helpers.py", "Rename get_user to
# fetch_user in db.py": one name swapped for another in each file listed.
_CODE_NAME = r"[A-Za-z_$][\w.$-]*?"
RENAME_NAME = re.compile(
    r"\brename\s+(?:the\s+|all\s+|every\s+)?(?:(?:variable|var|function|func|method|class"
    r"|column|key|field|parameter|param|argument|constant|property|attribute|header|heading"
    r"|module|label|setting|option|flag|symbol|identifier|type|struct|enum|tag|table|macro)s?\s+)?"
    rf"{_Q}(?P<old>{_CODE_NAME}){_Q}\s+(?:to|as|into)\s+{_Q}(?P<new>{_CODE_NAME}){_Q}\s+"
    r"(?:in|inside|across|throughout|within)\s+(?:the\s+)?(?:files?\s+)?"
    rf"(?P<files>{_listed(rf'{_Q}{_FILE}{_Q}')})(?![\w/])",
    re.I,
)
# "Create an empty __init__.py in each subfolder of pkg/": which folders is for the
# workspace to say, but they are all under pkg/.
IN_EACH_OF = re.compile(
    rf"\b(?:create|make|touch|add|put|place|drop|write)\s+{_FILLER}{_CALLED}(?P<names>{_FILES})"
    r"(?![\w/])\s+(?:in|inside|into|under|within)\s+(?:the\s+)?(?:each|every|all)\s+(?:of\s+the\s+)?"
    rf"(?:sub)?(?:folder|directory|dir)s?\s+(?:of|in|under|inside|within)\s+(?:the\s+)?{_DIR_NAMED}",
    re.I,
)
# Named after what they hold: "Write a story in three parts: p1.txt, p2.txt and p3.txt"
# (the list ends the clause), "Generate a changelog in CHANGELOG.md from commits.txt".
NAMED_LATER = re.compile(
    r"\b(?:create|make|write|generate|produce|split|build|compile)\b"
    rf"(?:[^;:\n]*?:\s*(?P<names>{_FILES})\s*(?=[.;\n]|$)"
    rf"|[^;\n]*?\bin\s+(?:file\s+)?{FILE_PATH}\s+(?:from|based\s+on|using)\b)",
    re.I,
)
# "Move all the files in inbox/ into folders by type": the folder they leave must change.
SPREAD = re.compile(
    r"\b(?:move|put|place|file|sort|split|group)\b[^;\n]*?\b(?:in|from|inside)\s+(?:the\s+)?"
    rf"{_DIR_NAMED}[^;\n]*?\binto\s+(?:separate\s+|new\s+)?(?:sub)?"
    r"(?:folders|directories)\b",
    re.I,
)
# How a sort spreads a folder's files out: "... into subfolders", "... by type".
SPREAD_HOW = re.compile(
    r"\binto\s+(?:separate\s+|new\s+)?(?:sub)?(?:folders|directories)\b"
    r"|\bby\s+(?:file\s+)?(?:type|extension|kind|format|date|year|month|category|topic)\b",
    re.I,
)
# "Duplicate template.txt as letter.txt", "a backup copy of a.yaml named a.yaml.bak":
# the copy's name, while the original stays.
COPY_NAMED = re.compile(
    r"\b(?:copy|backup|back\s+up|duplicate|clone)\b[^;\n]*?\b(?:called|named|titled|as)\s+"
    + FILE_PATH,
    re.I,
)
# "Make a copy of notes.md in backup/": the folder the copy goes to.
COPY_INTO_DIR = re.compile(
    rf"\b(?:copy|backup|duplicate)\s+of\s+(?:the\s+)?(?:file\s+)?{_Q}(?P<src>{_FILE}){_Q}\s+"
    rf"(?:in|into|inside|under|to)\s+(?:the\s+)?{_DIR_AT}",
    re.I,
)
# "Convert data.csv to JSON in data.json".
# "Convert prices.csv into a markdown table in prices.md", "Summarize reports/ into one
# paragraph in summary.md", "Summarize notes.md in summary.md": what the result becomes,
# or the file it comes from, then the file it goes in.
CONVERT_IN = re.compile(
    r"\b(?:convert|turn|transform|translate|summari[sz]e|condense|rewrite|reformat|render"
    r"|export|boil\s+down)\b(?:[^;\n]*?\b(?:to|into)\s+(?:[\w-]+\s+){1,5}?"
    rf"|\s+(?:the\s+)?(?:file\s+)?{_Q}{_FILE}{_Q}\s+)(?:in|as|at)\s+(?:file\s+)?{FILE_PATH}",
    re.I,
)
# "I need a CHANGELOG.md", "Add a .gitignore that ignores node_modules": a file wished
# for or added by its own name is made, unless the name only says where ("a config.yaml
# entry").
ADD_A_FILE = re.compile(
    r"\b(?:add|need|want|(?:would|'d)\s+like|give\s+me|set\s+up)\s+(?:me\s+)?(?:an?|one)\s+"
    rf"(?:(?:new|simple|basic|short|small|minimal)\s+)?{FILE_PATH}"
    r"(?!\s+(?:entry|entries|line|lines|section|key|field|setting|rule|value|option|item|row"
    r"|record|block|header|comment)\b)",
    re.I,
)
# "Create a markdown file with a table of the planets in planets.md": a file the work
# makes, named at the end of the clause.
A_FILE_IN = re.compile(
    r"\b(?:create|make|start|write|generate|prepare|produce)\s+(?:an?|the)\s+(?:new\s+)?"
    # "Write a test file tests/t.py for add in m.py": the file was named; m.py is its subject.
    rf"(?:[\w-]+\s+){{0,2}}?file\b(?:(?!{_A_FILE})[^;\n])*?\b(?:in|as|at|called|named)\s+"
    rf"(?:file\s+)?{FILE_PATH}(?=\s*(?:[.;,!?]|$))",
    re.I | re.M,
)
# "Create hello.txt containing Hello and goodbye.txt containing Goodbye": the second file
# of a list whose items each say what they hold.
_HOLDING = r"(?:containing|with|that\s+says|saying|holding|reading)"
AND_ANOTHER = re.compile(rf"\band\s+(?:another\s+)?{_NAMED_FILE}\s+{_HOLDING}\b", re.I)
# What must come before it in its clause: a file being made, with what it holds.
MADE_HOLDING = re.compile(rf"\b(?:create|make|write|add)\b[^;\n]*?\b{_HOLDING}\b", re.I)
# "Make the first line of title.txt uppercase": the file's own text, restyled in place.
_STYLE = r"(?:upper\s*case|lower\s*case|capitals|caps|capitali[sz]ed|title\s+case|bold|italics?)"
RESTYLE = re.compile(
    # "Make a copy of a.txt in uppercase" makes something new: no article "a".
    r"\b(?:make|turn|set|put)\s+(?!an?\s)(?:the\s+|all\s+(?:of\s+)?(?:the\s+)?)?(?:[\w-]+\s+){0,3}?"
    rf"(?:of|in)\s+(?:the\s+file\s+)?{FILE_PATH}\s+(?:all\s+|in\s+)?{_STYLE}\b",
    re.I,
)
# "Make a folder for each month under archive/": folders are made in that one.
FOLDERS_IN = re.compile(
    rf"\b(?:create|make|add|set\s+up)\s+(?:an?|one)\s+(?:new\s+)?{_DIR_WORD}\s+"
    r"(?:for\s+(?:each|every)|per)\b[^;\n]*?\b(?:in|under|inside|within)\s+(?:the\s+)?"
    rf"{_DIR_NAMED}",
    re.I,
)
# "Sort the lines of names.txt", "Remove the blank lines from a.txt": its own
# content reworked in place, unless another file is named for the result.
_LINE_WORK = (
    r"(?:sort|reverse|shuffle|dedupe|de-?duplicate|alphabeti[sz]e|number|indent|uppercase"
    r"|lowercase|capitali[sz]e|trim|strip|remove|delete|drop|reorder|swap|clean(?:\s+up)?"
    r"|get\s+rid\s+of)"
)
LINES_IN_PLACE = re.compile(
    rf"\b{_LINE_WORK}\b[^;\n]{{0,40}}?\b(?:lines?|rows?|entries|items|names|duplicates"
    r"|whitespace|comments?|everything|text|contents?|words|headers?|headings?|columns?|fields?"
    r"|values?|dates?|keys?|cells?)\b[^;\n]{0,20}?"
    rf"\b(?:of|in|from|inside)\s+(?:the\s+)?(?:file\s+)?{FILE_PATH}{_ELSEWHERE}",
    re.I,
)
# "Sort names.txt alphabetically".
SORT_FILE = re.compile(
    rf"\b(?:sort|alphabeti[sz]e|dedupe|de-?duplicate)\s+(?:the\s+)?(?:file\s+)?{FILE_PATH}"
    rf"{_ELSEWHERE}",
    re.I,
)
# "Organize inbox/ into subfolders", "Organize my photos folder by year", "Empty the
# trash folder": something in it must change.
SORT_NAMED = re.compile(
    r"\b(?:sort|organi[sz]e|arrange|group|tidy(?:\s+up)?|clean\s+(?:up|out)|declutter"
    # A verb only with its object's article: "an empty notes folder" is made, not emptied.
    r"|(?<!\ban )(?:empty|clear|purge|wipe|clean)(?:\s+out)?"
    r"(?=\s+(?:the|my|our|your)\s|\s+\S+/))\s+"
    rf"(?:(?:my|our|the|your)\s+)?(?:{_DIR_AT}"
    rf"|{_NOT_WHICH}{_Q}(?P<named>{_NAME}){_Q}\s+{_DIR_WORD}\b)",
    re.I,
)
# Work done to a file's own text, with no other file named after it in the clause:
# "Refactor main.py to use pathlib", "Empty log.txt", "Rename the function foo to bar
# in main.py", "Comment out the prints in app.py", "Move the last paragraph of essay.md
# to the top". Read as advice or a look ("Lint app.py", "Comment on main.py"), and
# with another file after it ("Convert the table in a.md to CSV in a.csv") the work
# may land elsewhere, so neither counts.
_REWORK_VERB = (
    r"(?:refactor|reformat|prettify|beautify|minify|re-?indent|dedent|indent|wrap|reflow|trim"
    r"|truncate|simplify|optimi[sz]e|moderni[sz]e|annotate|comment\s+out|uncomment"
    r"|tidy(?:\s+up)?|clean\s+up)"
)
_NO_OTHER_FILE = rf"(?![^;\n]*?{_A_FILE})"
# "Explain how to refactor main.py", "Suggest a refactor of main.py": advice, not the work.
_NOT_ADVICE = r"(?<!\bhow to )(?<!\bways to )(?<!\bhow I )(?<!\ba )(?<!\ban )(?<!\bthe )"
# "Move the last paragraph of essay.md to the top", "Move the install section above the
# usage section in README.md": the file's own lines, in another order.
_MOVE_WITHIN = (
    r"\bmove\s+(?:the\s+)?(?:\w+\s+){0,3}?(?:of|in)\s+(?:the\s+)?(?:file\s+)?"
    rf"(?={_Q}{_FILE}{_Q}\s+to\s+the\s+(?:very\s+)?(?:top|bottom|end|start|beginning)\b)"
    r"|\bmove\s+(?:the\s+)?(?:[\w-]+\s+){0,3}?(?:section|paragraph|line|heading|block|function"
    r"|method|class|chapter|part|entry|item|row|column|step)s?\s+(?:above|below|before|after"
    r"|to\s+the\s+(?:very\s+)?(?:top|bottom|end|start|beginning))\b[^;\n]*?\b(?:in|of)\s+"
    r"(?:the\s+)?(?:file\s+)?"
)
REWORK = re.compile(
    rf"{_NOT_ADVICE}(?:\b(?:{_REWORK_VERB}|format|empty|clear(?:\s+out)?|lowercase|uppercase"
    r"|capitali[sz]e|turn)\s+(?:the\s+)?"
    r"(?:file\s+)?"
    rf"|\b(?:{_REWORK_VERB}|rename|convert|turn|document|fill\s+(?:in|out)|keep\s+only|lowercase"
    r"|uppercase|capitali[sz]e)\b"
    rf"(?:(?!{_A_FILE})[^;\n])*?\b(?:in|of|inside|within|throughout)\s+(?:the\s+)?(?:file\s+)?"
    rf"|\b(?:remove|delete|strip|drop|erase|get\s+rid\s+of)\b(?:(?!{_A_FILE})[^;\n])*?"
    r"\bfrom\s+(?:the\s+)?(?:file\s+)?"
    rf"|{_MOVE_WITHIN})"
    rf"{FILE_PATH}{_NO_OTHER_FILE}",
    re.I,
)
# "Split contacts.csv into customers.csv and suppliers.csv": the parts are made from it.
SPLIT_INTO = re.compile(
    rf"\bsplit\s+(?:up\s+)?(?:the\s+)?(?:file\s+)?{_Q}(?P<src>{_FILE}){_Q}\s+(?:in)?to\s+"
    r"(?:(?:two|three|four|five|\d+|several|separate)\s+(?:new\s+)?(?:files|parts|pieces)\s*[,:]?\s*"
    rf"(?:called\s+|named\s+)?)?(?P<names>{_listed(_SRC)})(?![\w/])",
    re.I,
)
# "Comment out the line in run.py that calls debug_dump()": the line stays, as a comment.
COMMENT_OUT = re.compile(
    rf"\bcomment\s+out\b(?:(?!{_A_FILE})[^;\n])*?\b(?:in|of|from)\s+(?:the\s+)?(?:file\s+)?{FILE_PATH}",
    re.I,
)
MOVE_WITHIN = re.compile(rf"(?:{_MOVE_WITHIN}){FILE_PATH}{_NO_OTHER_FILE}", re.I)
# "Change every 'TODO' to 'DONE' across notes/", "Prefix every file in invoices/ with
# 2024-": the work is on the files of a folder, so something in it must change. Not
# when the work may land in another place named after it, nor "what to change in src/".
_CHANGE_VERB = (
    r"(?:change|replace|update|edit|fix|correct|append|prepend|prefix|suffix|rename|lowercase"
    r"|uppercase|capitali[sz]e|strip|trim|reformat|refactor|convert|add|insert|remove|delete"
    r"|get\s+rid\s+of)"
)
_NO_OTHER_PATH = rf"(?![^;\n]*?(?<![\w.-])(?:{_FILE}|{_DIR}))"
IN_DIR_WORK = re.compile(
    rf"(?<!\bto )\b{_CHANGE_VERB}\b(?:(?!{_A_FILE})[^;\n])*?"
    r"\b(?:in|across|throughout|under|inside|within|to|from)\s+(?:all\s+(?:of\s+)?)?(?:the\s+)?"
    rf"{_DIR_AT}{_NO_OTHER_PATH}",
    re.I,
)
# "Scaffold a Flask app in webapp/": the folder the new project is made in.
PROJECT_IN = re.compile(
    r"\b(?:scaffold|bootstrap|initiali[sz]e|init|generate|create|make|build|set\s+up|start)\s+"
    r"(?:an?|the)\s+(?:new\s+)?(?:[\w-]+\s+){0,3}?(?:app|application|project|package|site"
    r"|website|service|api|library|skeleton)\s+(?:in|under|inside|at)\s+(?:the\s+)?"
    rf"{_DIR_AT}",
    re.I,
)
# "Can you put a .gitignore in the repo root?", "Drop a README.md in docs/".
PUT_A_FILE = re.compile(
    rf"\b(?:put|place|drop)\s+(?:an?|one)\s+(?:(?:new|empty|blank)\s+)?(?P<names>{_ONE_FILE})"
    rf"(?![\w/]){_NOT_EACH}{_WHERE}",
    re.I,
)
# "Change the extension of notes.txt to .md": renamed.
NEW_EXTENSION = re.compile(
    r"\b(?:change|switch)\s+(?:the\s+)?(?:file\s+)?extension\s+of\s+(?:the\s+)?(?:file\s+)?"
    rf"{_Q}(?P<src>{_FILE}){_Q}\s+(?:to|into)\s+\.?(?P<ext>[A-Za-z][A-Za-z0-9]{{0,7}})\b",
    re.I,
)
# "Rename the folder tmp to scratch".
RENAME_DIR = re.compile(
    rf"\brename\s+(?:the\s+)?{_DIR_WORD}\s+{_Q}(?P<src>{_NAME}){_Q}\s+(?:to|as|into)\s+"
    rf"{_Q}(?P<dst>{_NAME}/?){_Q}(?![\w/]|\.\w)",
    re.I,
)
# "Remove 'Bob' from guests.txt": quoted words taken out of a file change it in place.
TAKE_OUT = re.compile(
    r"\b(?:remove|delete|erase|strip|drop|cut|take\s+out|get\s+rid\s+of)\s+"
    r"(?:(?:the|every|all|each|any)\s+)?(?:(?:lines?|words?|entry|entries|rows?|names?|mentions?"
    r"|occurrences?|text|phrase|string)\s+(?:of\s+|saying\s+|containing\s+)?)?"
    rf"(?:'[^'\n]+'|\"[^\"\n]+\"|“[^”\n]+”)\s+(?:from|out\s+of)\s+(?:the\s+)?(?:file\s+)?{FILE_PATH}",
    re.I,
)
# "... of the errors in app.log to errors.md": where the work goes, after its source.
THEN_TARGET = re.compile(rf"[^;\n]*?{_TO_FILE}", re.I)
