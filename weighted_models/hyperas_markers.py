"""Hyperas `{{...}}` markers, found in code by parsing and named after what they tune.

A Hyperas marker `{{choice([32, 64])}}` is valid Python (a set holding a set
holding a call), so the function's source is parsed with `ast`: markers in
comments or string literals are not markers, and a marker may hold any
expression (nested dicts, multi-line lists). Each marker is replaced by a call
of the trial's space, `__hyperas__.choice("Dense.units", [32, 64])`.

Names say what a marker tunes:

| where the marker is | name |
|---|---|
| positional argument of a call | the callee and its parameter: `Conv1D(...)` -> `Conv1D.filters`, `Conv1D.kernel_size`; `Dropout(...)` -> `Dropout.rate`; `model.add(...)` -> `add.layer` |
| keyword argument | the callee and the keyword: `fit(batch_size=...)` -> `fit.batch_size` |
| right side of an assignment | the target: `dropout1 = ...` -> `dropout1`, `self.units = ...` -> `units`, `params["lr"] = ...` -> `lr` |
| dict value | its key: `{"lr": ...}` -> `lr` |
| inside `int(...)`, `float(...)`, `round(...)`, arithmetic | the name of what encloses it |
| anywhere else | `param` |

Repeated names get `_1`, `_2`, ... in source order, as in Hyperas.
"""

import ast
import builtins
import inspect

import keras

DISTRIBUTIONS = (
    "choice",
    "pchoice",
    "uniform",
    "uniformint",
    "quniform",
    "loguniform",
    "qloguniform",
    "randint",
    "normal",
    "qnormal",
    "lognormal",
    "qlognormal",
)

# Calls that only convert a value: the marker is named after what encloses them.
_TRANSPARENT = {"int", "float", "round", "abs", "str", "bool", "list", "tuple"}


class Marker:
    """One Hyperas marker: its distribution, its arguments' source, its name and place."""

    def __init__(self, distribution, arguments, name, line, start, end, text):
        self.distribution = distribution
        self.arguments = arguments
        self.name = name
        self.line = line
        self.start, self.end = start, end
        self.text = text


def find_markers(source, namespace=None):
    """The Hyperas markers of `source`, in source order.

    Args:
        source: Python source (a model function).
        namespace: the globals the function will run in; used to read the
            parameter names of the functions and classes markers are
            passed to.

    Returns:
        A list of `Marker`s.

    Raises:
        ValueError: source that is not valid Python, a marker that is not a
            call of a Hyperas distribution, or a marker inside a marker.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ValueError(f"The Hyperas model function is not valid Python: {error.msg} (line {error.lineno}).") from None
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    offsets = _LineOffsets(source)
    markers = []
    for node in ast.walk(tree):
        if not _is_marker(node):
            continue
        if any(_is_marker(p) for p in _ancestors(node, parents)):
            raise ValueError(f"Hyperas marker on line {node.lineno} is inside another marker; Hyperas markers cannot be nested.")
        text = ast.get_source_segment(source, node)
        call = node.elts[0].elts[0]
        function = _callee(call.func) if isinstance(call, ast.Call) else None
        if function not in DISTRIBUTIONS:
            raise ValueError(
                f"Hyperas marker {text} on line {node.lineno} is not supported: it is not a "
                f"Hyperas distribution. Supported: {', '.join(DISTRIBUTIONS)}."
            )
        arguments = [ast.get_source_segment(source, a) for a in call.args]
        arguments += [f"{k.arg}={ast.get_source_segment(source, k.value)}" for k in call.keywords]
        markers.append(
            Marker(
                function,
                ", ".join(arguments),
                _name(node, parents, namespace or {}),
                node.lineno,
                offsets(node.lineno, node.col_offset),
                offsets(node.end_lineno, node.end_col_offset),
                text,
            )
        )
    markers.sort(key=lambda m: m.start)
    seen = {}
    for marker in markers:
        count = seen.get(marker.name, 0)
        seen[marker.name] = count + 1
        if count:
            marker.name = f"{marker.name}_{count}"
    return markers


def _is_marker(node):
    return isinstance(node, ast.Set) and len(node.elts) == 1 and isinstance(node.elts[0], ast.Set) and len(node.elts[0].elts) == 1


def _ancestors(node, parents):
    while node in parents:
        node = parents[node]
        yield node


class _LineOffsets:
    """Character offset of an `ast` position (line, UTF-8 byte column)."""

    def __init__(self, source):
        self.lines = source.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def __call__(self, line, column):
        text = self.lines[line - 1].encode("utf-8")[:column].decode("utf-8")
        return self.starts[line - 1] + len(text)


def _callee(func):
    """The last name of a called expression: `layers.Conv1D` -> `Conv1D`."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _name(node, parents, namespace):
    while node in parents:
        parent = parents[node]
        if isinstance(parent, ast.keyword):
            call = parents[parent]
            callee = _callee(call.func)
            if parent.arg is None:  # **kwargs
                return callee or "param"
            return f"{callee}.{parent.arg}" if callee and callee not in _TRANSPARENT else parent.arg
        if isinstance(parent, ast.Call) and node in parent.args:
            callee = _callee(parent.func)
            if callee in _TRANSPARENT:
                node = parent
                continue
            if callee is None:
                return "param"
            parameter = _parameter(parent.func, parent.args.index(node), namespace)
            return f"{callee}.{parameter}" if parameter else callee
        if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            name = _target_name(targets[0]) if len(targets) == 1 else None
            return name or "param"
        if isinstance(parent, ast.Dict) and node in parent.values:
            key = parent.keys[parent.values.index(node)]
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                return key.value
            return "param"
        if isinstance(parent, (ast.BinOp, ast.UnaryOp, ast.IfExp)):
            node = parent
            continue
        return "param"
    return "param"


def _target_name(target):
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
        return str(target.slice.value)
    return None


def _resolve(expression, namespace):
    """The object a dotted name stands for in `namespace`, or None."""
    if isinstance(expression, ast.Name):
        if expression.id in namespace:
            return namespace[expression.id]
        return getattr(builtins, expression.id, None)
    if isinstance(expression, ast.Attribute):
        owner = _resolve(expression.value, namespace)
        return getattr(owner, expression.attr, None) if owner is not None else None
    return None


def _parameter(func, index, namespace):
    """The name of positional parameter `index` of the called function, or None."""
    target, skip = _resolve(func, namespace), 0
    if target is None and isinstance(func, ast.Attribute):
        # A method of a local variable: most often a Keras model (`model.add`, `model.fit`).
        target, skip = getattr(keras.Sequential, func.attr, None), 1  # unbound: skip `self`
    if target is None:
        return None
    try:
        parameters = list(inspect.signature(target).parameters.values())[skip:]
    except (TypeError, ValueError):
        return None
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if index < len(positional):
        return positional[index].name
    variadic = [p for p in parameters if p.kind == p.VAR_POSITIONAL]
    return f"{variadic[0].name}_{index - len(positional)}" if variadic else None


def rewrite(source, namespace=None):
    """`source` with each marker replaced by a call of the trial's space.

    Args:
        source: Python source of a Hyperas model function.
        namespace: its globals (see `find_markers`).

    Returns:
        `(new_source, markers)`.

    Examples:
        >>> new, markers = rewrite("x = Dense({{choice([32, 64])}})", {"Dense": keras.layers.Dense})
        >>> new
        "x = Dense(__hyperas__.choice('Dense.units', [32, 64]))"
    """
    markers = find_markers(source, namespace)
    pieces, last = [], 0
    for marker in markers:
        pieces += [source[last : marker.start], f"__hyperas__.{marker.distribution}({marker.name!r}, {marker.arguments})"]
        last = marker.end
    pieces.append(source[last:])
    return "".join(pieces), markers
