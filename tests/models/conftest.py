"""Tiny Stable-Diffusion / CLIP folders (random weights, built from dicts) for the TDR tests."""
import pytest
import torch

TINY_TEXT = dict(vocab_size=16, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                 num_attention_heads=2, max_position_embeddings=12, bos_token_id=0,
                 eos_token_id=1, pad_token_id=1)
TINY_VISION = dict(hidden_size=12, intermediate_size=24, num_hidden_layers=1, num_attention_heads=2,
                   image_size=28, patch_size=14)
TINY_UNET = dict(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                 block_out_channels=(8, 16), norm_num_groups=4,
                 down_block_types=('CrossAttnDownBlock2D', 'DownBlock2D'),
                 up_block_types=('UpBlock2D', 'CrossAttnUpBlock2D'),
                 cross_attention_dim=16, attention_head_dim=4, use_linear_projection=True)
TINY_VAE = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8),
                down_block_types=('DownEncoderBlock2D', 'DownEncoderBlock2D'),
                up_block_types=('UpDecoderBlock2D', 'UpDecoderBlock2D'), layers_per_block=1,
                norm_num_groups=4, sample_size=16)
TINY_SCHED = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                  beta_schedule='scaled_linear', clip_sample=False, set_alpha_to_one=False,
                  steps_offset=1)
# "a photo of a s" tokenises to [BOS, a, photo, of, a, s, EOS, pad...]
VOCAB = {'<|startoftext|>': 0, '<|endoftext|>': 1, 'a</w>': 2, 'photo</w>': 3, 'of</w>': 4,
         's</w>': 5, 'p': 6, 'h': 7, 'o': 8, 't': 9, 'ph': 10, 'pho': 11, 'phot': 12, 'f</w>': 13,
         'o</w>': 14}
MERGES = [('p', 'h'), ('ph', 'o'), ('pho', 't'), ('phot', 'o</w>'), ('o', 'f</w>')]
TINY_MAPPER = dict(type='Mapper', input_dim=12, output_dim=16, num_words=2, hidden_dim=8)
TINY_CLEAN = dict(type='CleanMapper', input_dim=16, output_dim=16, num_words=2, hidden_dim=8)


@pytest.fixture(scope='session')
def tiny_sd(tmp_path_factory):
    """(sd_folder, clip_folder) in the diffusers / transformers layouts."""
    diffusers = pytest.importorskip('diffusers', reason="TDR guidance needs the 'diffusion' extra")
    transformers = pytest.importorskip('transformers',
                                       reason="TDR guidance needs the 'diffusion' extra")
    root = tmp_path_factory.mktemp('tiny_sd')
    sd, clip = root / 'sd21base', root / 'clip_vith14'
    torch.manual_seed(0)
    diffusers.UNet2DConditionModel(**TINY_UNET).save_pretrained(sd / 'unet')
    diffusers.AutoencoderKL(**TINY_VAE).save_pretrained(sd / 'vae')
    diffusers.DDIMScheduler(**TINY_SCHED).save_pretrained(sd / 'scheduler')
    transformers.CLIPTextModel(transformers.CLIPTextConfig(**TINY_TEXT)).save_pretrained(
        sd / 'text_encoder')
    tok = transformers.CLIPTokenizer(vocab=dict(VOCAB), merges=list(MERGES), model_max_length=12)
    tok.save_pretrained(sd / 'tokenizer')
    transformers.CLIPVisionModel(transformers.CLIPVisionConfig(**TINY_VISION)).save_pretrained(clip)
    return sd, clip
