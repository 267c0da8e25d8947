"""Model zoo and leaderboard reproduction: metafiles, evaluation with a result cache,
verdicts, tables/plots and official-checkpoint conversion.

Imports are light (no torch model code) until a function needs it.
"""
from irkit.leaderboard.metafile import (Metafile, MetafileError, ModelEntry, Result, load_metafile,
                                        load_metafiles, parse_metafile)
from irkit.leaderboard.report import DEFAULT_TOLERANCES, Row, judge

__all__ = ['Metafile', 'MetafileError', 'ModelEntry', 'Result', 'load_metafile', 'load_metafiles',
           'parse_metafile', 'Row', 'judge', 'DEFAULT_TOLERANCES']
