import { assetHandler } from '../../shared/boot/asset-function';
import { httpFunction } from '../../shared/http/function';

httpFunction('assetKernel', assetHandler('kernel'));
