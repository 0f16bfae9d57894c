import { defineFunction } from '../../shared/http/function';
import { assetHandler } from './asset';

export const assetKernel = defineFunction('assetKernel', assetHandler('kernel'));
