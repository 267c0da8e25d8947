# Universal-IR trained and tested on one degradation only ('motion-blurry'), same recipe as
# daclip_irsde_universal.py (the DA-CLIP conditioning is kept).
_base_ = ['./daclip_irsde_universal.py']

_degradations = ['motion-blurry']
train_dataloader = dict(dataset=dict(degradations=_degradations))
val_dataloader = dict(dataset=dict(degradations=_degradations))
test_dataloader = val_dataloader
